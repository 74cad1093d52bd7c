"""Searching a user's tasks (reference solution)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import UnknownSortKey
from .schemas import TaskOut

# Column names cannot be bind parameters: only these fixed SQL fragments ever reach ORDER BY.
_ORDER_BY = {"id": "id", "title": "title", "created_at": "created_at"}


def _like_literal(value: str) -> str:
    """``value`` with the LIKE wildcards and the escape character itself escaped."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")  # backslash first


async def search_tasks(session: AsyncSession, owner_id: int, q: str, sort: str = "id") -> list[TaskOut]:
    """The owner's tasks whose title contains ``q`` (ignoring case), ordered by ``sort`` then id."""
    if sort not in _ORDER_BY:  # an allow-list, because identifiers cannot be sent as parameters
        raise UnknownSortKey(f"cannot sort by {sort!r}; use one of {', '.join(_ORDER_BY)}")
    sql = text(
        "SELECT id, title, done FROM task "
        "WHERE owner_id = :owner_id AND title ILIKE :pattern ESCAPE '\\' "  # values travel as parameters
        f"ORDER BY {_ORDER_BY[sort]}, id"  # a fragment from our own table, never the caller's text
    )
    pattern = f"%{_like_literal(q)}%"  # the caller's % and _ match themselves
    rows = (await session.execute(sql, {"owner_id": owner_id, "pattern": pattern})).mappings().all()
    return [TaskOut(**row) for row in rows]
