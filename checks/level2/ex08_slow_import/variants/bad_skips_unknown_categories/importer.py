"""Known-bad: rows naming an unknown category are skipped instead of rejecting the import."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Category, Task
from .schemas import TaskRow


async def import_tasks(session: AsyncSession, rows: Sequence[TaskRow]) -> int:
    known = set(await session.scalars(select(Category.id).where(Category.id.in_({r.category_id for r in rows}))))
    good = [r.model_dump() for r in rows if r.category_id in known]
    if good:
        await session.execute(insert(Task).execution_options(render_nulls=True), good)
    return len(good)
