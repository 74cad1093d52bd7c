"""Searching a user's tasks (yours to fix)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import UnknownSortKey  # noqa: F401  (task 3 needs it)
from .schemas import TaskOut


async def search_tasks(session: AsyncSession, owner_id: int, q: str, sort: str = "id") -> list[TaskOut]:
    """The owner's tasks whose title contains ``q`` (ignoring case), ordered by ``sort`` then id."""
    # TODO(task 1): the search text is pasted into the SQL. What can a user type into the box?
    # TODO(task 2): which characters mean something special to ILIKE?
    # TODO(task 3): `sort` comes straight from the query string too.
    sql = text(
        f"SELECT id, title, done FROM task WHERE owner_id = {owner_id} AND title ILIKE '%{q}%' ORDER BY {sort}, id"
    )
    rows = (await session.execute(sql)).mappings().all()
    return [TaskOut(**row) for row in rows]
