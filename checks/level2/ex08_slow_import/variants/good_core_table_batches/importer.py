"""Alternative fix: Core INSERT on the Table in explicit batches of 1000, one transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import UnknownCategory
from .models import Category, Task
from .schemas import TaskRow


async def import_tasks(session: AsyncSession, rows: Sequence[TaskRow]) -> int:
    known = set(await session.scalars(select(Category.id).where(Category.id.in_({r.category_id for r in rows}))))
    for index, row in enumerate(rows):
        if row.category_id not in known:
            raise UnknownCategory(index, row.category_id)
    table = Task.__table__
    for start in range(0, len(rows), 1000):
        await session.execute(insert(table), [r.model_dump() for r in rows[start : start + 1000]])
    return len(rows)
