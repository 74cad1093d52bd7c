"""Task 4 (yours to edit): a copy of ``create_task()`` from refresh.py, to fix so that line E prints.

Change ONE line of ``create_task()``: replace, add or remove one line (an import you need does not
count). Keep the rest as it is. ``run_fix.py`` (given) runs it as ``dropped()`` runs the original:
the variable holding the category is deleted before line E.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from .models import Category, Task


async def create_task(session: AsyncSession, work: Category) -> Task:
    """Create a task in ``work``, flush it, refresh it, print what it holds."""
    task = Task(title="Write the report", category_id=work.id)
    session.add(task)
    await session.flush()
    print(f"A: task.id = {task.id}")
    print(f"B: task.category_id = {task.category_id}")
    result = await session.execute(select(Task).where(Task.id == task.id).options(selectinload(Task.category)))
    task = result.scalar_one()  # the seed's Fix A: right, but four lines
    print(f"C: task.id = {task.id}")
    print(f"D: task.title = {task.title}")
    return task
