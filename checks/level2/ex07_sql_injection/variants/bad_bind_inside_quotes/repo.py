"""Known-bad: a bind parameter written inside the quotes of a SQL string literal."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import UnknownSortKey
from .schemas import TaskOut

_ORDER_BY = {"id": "id", "title": "title", "created_at": "created_at"}


async def search_tasks(session: AsyncSession, owner_id: int, q: str, sort: str = "id") -> list[TaskOut]:
    if sort not in _ORDER_BY:
        raise UnknownSortKey(sort)
    sql = text(
        f"SELECT id, title, done FROM task WHERE owner_id = :owner_id AND title ILIKE '%:q%' "
        f"ORDER BY {_ORDER_BY[sort]}, id"
    )
    rows = (await session.execute(sql, {"owner_id": owner_id, "q": q})).mappings().all()
    return [TaskOut(**row) for row in rows]
