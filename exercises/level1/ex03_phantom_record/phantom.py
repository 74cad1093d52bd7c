"""The puzzle (given, read-only): a task that got an id, and a check that looks for it.

Read it, predict, write your predictions in answers.toml. The checks run ``main()`` on an empty
database, with a session factory made by ``async_sessionmaker(engine, expire_on_commit=False)``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .models import Category, Task


async def create_categorized_task(session_factory: async_sessionmaker[AsyncSession]) -> int:
    """Create a category and a task in it; return the task's id."""
    async with session_factory() as session:
        category = Category(name="Urgent")
        session.add(category)
        print(f"AFTER-ADD: category.id = {category.id}")

        await session.flush()
        print(f"AFTER-FLUSH: category.id = {category.id}")

        task = Task(title="Fix the login bug", category_id=category.id)
        session.add(task)
        await session.flush()
        print(f"AFTER-SECOND-FLUSH: task.id = {task.id}")

        saved_id = task.id
        if len(task.title) > 10:  # a validation rule, checked after both flushes
            raise ValueError("title too long for a quick task")

        await session.commit()
        print("COMMITTED: the task is saved")
        return saved_id


async def check_database(session_factory: async_sessionmaker[AsyncSession], task_id: int) -> None:
    """Look for the task in a new session."""
    async with session_factory() as session:
        task = (await session.execute(select(Task).where(Task.id == task_id))).scalar_one_or_none()
        print(f"EXISTS: task {task_id} exists = {task is not None}")


async def create_next(session_factory: async_sessionmaker[AsyncSession]) -> None:
    """Later, someone creates another category and task, and commits."""
    async with session_factory() as session:
        category = Category(name="Later")
        session.add(category)
        await session.flush()
        task = Task(title="Tidy up", category_id=category.id)
        session.add(task)
        await session.commit()
        print(f"NEXT-CATEGORY: category.id = {category.id}")
        print(f"NEXT-TASK: task.id = {task.id}")


async def main(session_factory: async_sessionmaker[AsyncSession]) -> None:
    try:
        task_id = await create_categorized_task(session_factory)
    except ValueError as exc:
        print(f"CAUGHT: {exc}")
        task_id = 1  # "we saw the id being assigned!"
    await check_database(session_factory, task_id)
    await create_next(session_factory)
