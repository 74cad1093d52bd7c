"""Known-bad: ORM bulk INSERT without render_nulls: rows with different None columns do not batch."""

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
    if rows:
        await session.execute(insert(Task), [r.model_dump() for r in rows])
    return len(rows)
