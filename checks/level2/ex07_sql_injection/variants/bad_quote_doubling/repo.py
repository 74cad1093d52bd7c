"""Known-bad: escapes quotes by hand and keeps the f-string (wildcards still live, text still in the SQL)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import UnknownSortKey
from .schemas import TaskOut

_SORTS = ("id", "title", "created_at")


async def search_tasks(session: AsyncSession, owner_id: int, q: str, sort: str = "id") -> list[TaskOut]:
    if sort not in _SORTS:
        raise UnknownSortKey(sort)
    safe = q.replace("'", "''")
    sql = text(
        f"SELECT id, title, done FROM task WHERE owner_id = {owner_id} AND title ILIKE '%{safe}%' ORDER BY {sort}, id"
    )
    return [TaskOut(**row) for row in (await session.execute(sql)).mappings().all()]
