"""The puzzle (given, read-only): a new task, a refresh, and its category, three ways.

Read it, predict, write your predictions in answers.toml. The checks call each function below with an
engine on a database holding two categories, 1 "Shopping" and 2 "Work", and no task.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .models import Category, Task


async def create_task(session: AsyncSession, work: Category) -> Task:
    """Create a task in ``work``, flush it, refresh it, print what it holds."""
    task = Task(title="Write the report", category_id=work.id)
    session.add(task)
    await session.flush()
    print(f"A: task.id = {task.id}")
    print(f"B: task.category_id = {task.category_id}")
    await session.refresh(task)  # "reload it from the database"
    print(f"C: task.id = {task.id}")
    print(f"D: task.title = {task.title}")
    return task


async def work_category(session: AsyncSession) -> Category:
    return (await session.execute(select(Category).where(Category.name == "Work"))).scalar_one()


async def held(engine: AsyncEngine) -> None:
    """1. The category stays in a variable."""
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        work = await work_category(session)
        task = await create_task(session, work)
        print(f"E: task.category.name = {task.category.name}")


async def dropped(engine: AsyncEngine) -> None:
    """2. The variable is deleted before line E."""
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        work = await work_category(session)
        task = await create_task(session, work)
        del work
        print(f"E: task.category.name = {task.category.name}")


async def expunged(engine: AsyncEngine) -> None:
    """2. The category is still in a variable, but no longer in the session."""
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        work = await work_category(session)
        task = await create_task(session, work)
        session.expunge(work)
        print(f"E: task.category.name = {task.category.name}")
