"""Task 5 (yours to edit): a copy of ``read_task()`` from safety_net.py, to fix so that line C prints.

Change ONE line of ``read_task()``: replace, add or remove one line (an import you need does not
count). Keep the rest as it is. ``run_fix.py`` (given) runs it as ``plain()`` does, with
``expire_on_commit=False``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Task


async def read_task(session: AsyncSession) -> None:
    """Load task 1 (no eager loading), then print from it before and after a commit."""
    task = (await session.execute(select(Task).where(Task.id == 1))).scalar_one()
    print(f"A: before commit, title = {task.title}")
    await session.commit()
    print(f"B: after commit, title = {task.title}")
    print("C: after commit, category = Shopping")
