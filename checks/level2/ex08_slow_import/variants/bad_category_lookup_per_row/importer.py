"""Known-bad: one bulk INSERT, but each row still looks its category up on its own."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import UnknownCategory
from .models import Category, Task
from .schemas import TaskRow


async def import_tasks(session: AsyncSession, rows: Sequence[TaskRow]) -> int:
    for index, row in enumerate(rows):
        if await session.get(Category, row.category_id) is None:
            raise UnknownCategory(index, row.category_id)
    await session.execute(insert(Task).execution_options(render_nulls=True), [r.model_dump() for r in rows])
    return len(rows)
