"""Known-bad: bulk and atomic, but reports the row of the smallest missing category id, not the first bad row."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import UnknownCategory
from .models import Category, Task
from .schemas import TaskRow


async def import_tasks(session: AsyncSession, rows: Sequence[TaskRow]) -> int:
    """Add one task per row, inside the caller's transaction; return how many were added."""
    if not rows:
        return 0
    wanted = {row.category_id for row in rows}
    known = set(await session.scalars(select(Category.id).where(Category.id.in_(wanted))))  # one query for all
    missing = sorted(wanted - known)
    if missing:  # FLAW: the smallest missing id's row, which is the first bad row only by luck
        first = next(i for i, row in enumerate(rows) if row.category_id == missing[0])
        raise UnknownCategory(first, missing[0])
    # render_nulls: keep None columns in every row, so all rows share one statement and batch together
    await session.execute(insert(Task).execution_options(render_nulls=True), [row.model_dump() for row in rows])
    return len(rows)
