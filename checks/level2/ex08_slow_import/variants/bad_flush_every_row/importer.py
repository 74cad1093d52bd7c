"""Known-bad: one category query, but still one INSERT (flush) per row."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import UnknownCategory
from .models import Category, Task
from .schemas import TaskRow


async def import_tasks(session: AsyncSession, rows: Sequence[TaskRow]) -> int:
    known = set(await session.scalars(select(Category.id).where(Category.id.in_({r.category_id for r in rows}))))
    for index, row in enumerate(rows):
        if row.category_id not in known:
            raise UnknownCategory(index, row.category_id)
    for row in rows:
        session.add(Task(**row.model_dump()))
        await session.flush()
    return len(rows)
