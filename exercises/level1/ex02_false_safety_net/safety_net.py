"""The puzzle (given, read-only): one task read four ways, before and after a commit.

Read it, predict, write your predictions in answers.toml. The checks call each function below with an
engine on a database holding one category (id 1, "Shopping") and one task (id 1, "Buy milk", in
category 1).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .models import Category, Task


async def read_task(session: AsyncSession) -> None:
    """Load task 1 (no eager loading), then print from it before and after a commit."""
    task = (await session.execute(select(Task).where(Task.id == 1))).scalar_one()
    print(f"A: before commit, title = {task.title}")
    await session.commit()
    print(f"B: after commit, title = {task.title}")
    print(f"C: after commit, category = {task.category.name}")


async def plain(engine: AsyncEngine) -> None:
    """1. The "safe" setting."""
    session_factory = async_sessionmaker(engine, expire_on_commit=False)
    async with session_factory() as session:
        await read_task(session)


async def category_held(engine: AsyncEngine) -> None:
    """2. The same, after loading category 1 and keeping it in a variable."""
    session_factory = async_sessionmaker(engine, expire_on_commit=False)
    async with session_factory() as session:
        shopping = await session.get(Category, 1)  # the variable keeps the object alive
        await read_task(session)
        print(f"D: still holding category {shopping.name}")


async def category_dropped(engine: AsyncEngine) -> None:
    """2. The same, after loading category 1 without keeping it."""
    session_factory = async_sessionmaker(engine, expire_on_commit=False)
    async with session_factory() as session:
        await session.get(Category, 1)
        await read_task(session)


async def expiring(engine: AsyncEngine) -> None:
    """3. The default setting of async_sessionmaker."""
    session_factory = async_sessionmaker(engine)  # expire_on_commit=True
    async with session_factory() as session:
        await read_task(session)
