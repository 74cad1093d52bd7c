"""Alternative fix: no pattern at all (strpos on lower-cased text), so there is nothing to escape."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import UnknownSortKey
from .schemas import TaskOut


async def search_tasks(session: AsyncSession, owner_id: int, q: str, sort: str = "id") -> list[TaskOut]:
    order_by = {"id": "id", "title": "title", "created_at": "created_at"}.get(sort)
    if order_by is None:
        raise UnknownSortKey(f"cannot sort by {sort!r}")
    sql = text(
        "SELECT id, title, done FROM task WHERE owner_id = :owner AND strpos(lower(title), lower(:q)) > 0 "
        f"ORDER BY {order_by}, id"
    )
    rows = (await session.execute(sql, {"owner": owner_id, "q": q})).mappings().all()
    return [TaskOut(**row) for row in rows]
