"""Known-bad: a batching loop whose range stops before the last, partial batch."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import UnknownCategory
from .models import Category, Task
from .schemas import TaskRow

BATCH = 1000


async def import_tasks(session: AsyncSession, rows: Sequence[TaskRow]) -> int:
    known = set(await session.scalars(select(Category.id).where(Category.id.in_({r.category_id for r in rows}))))
    for index, row in enumerate(rows):
        if row.category_id not in known:
            raise UnknownCategory(index, row.category_id)
    for start in range(0, len(rows) - len(rows) % BATCH, BATCH):
        batch = [r.model_dump() for r in rows[start : start + BATCH]]
        await session.execute(insert(Task).execution_options(render_nulls=True), batch)
    return len(rows)
