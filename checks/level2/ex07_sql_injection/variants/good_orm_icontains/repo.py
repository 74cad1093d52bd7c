"""Alternative fix: an ORM select with icontains(autoescape=True) and a mapping of sort keys to columns."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import UnknownSortKey
from .models import Task
from .schemas import TaskOut

_ORDER_BY = {"id": Task.id, "title": Task.title, "created_at": Task.created_at}


async def search_tasks(session: AsyncSession, owner_id: int, q: str, sort: str = "id") -> list[TaskOut]:
    column = _ORDER_BY.get(sort)
    if column is None:
        raise UnknownSortKey(f"cannot sort by {sort!r}")
    stmt = (
        select(Task.id, Task.title, Task.done)
        .where(Task.owner_id == owner_id, Task.title.icontains(q, autoescape=True))
        .order_by(column, Task.id)
    )
    return [TaskOut(id=r.id, title=r.title, done=r.done) for r in await session.execute(stmt)]
