"""The puzzle (given, read-only): every task's category name, looked up with session.get(), three ways.

Read it, predict, write your predictions in answers.toml. The checks call each function below with an
engine on a database holding 3 categories (ids 1, 2, 3) and 40 tasks: task n is in category
1 + n % 3, so two consecutive tasks are never in the same category.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from .models import Category, Task


async def names_looked_up(engine: AsyncEngine) -> list[str]:
    """1. One session.get() per task; the category is used and let go."""
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        tasks = (await session.execute(select(Task).order_by(Task.id))).scalars().all()
        names = []
        for task in tasks:
            category = await session.get(Category, task.category_id)
            names.append(category.name if category else "?")
        return names


async def names_kept(engine: AsyncEngine) -> list[str]:
    """2. The same loop, but every category it gets is also kept in a list."""
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        tasks = (await session.execute(select(Task).order_by(Task.id))).scalars().all()
        names, kept = [], []
        for task in tasks:
            category = await session.get(Category, task.category_id)
            kept.append(category)
            names.append(category.name if category else "?")
        return names


async def names_prefetched(engine: AsyncEngine) -> list[str]:
    """2. All categories are loaded first, and the result is kept; then the same loop."""
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        categories = (await session.execute(select(Category))).scalars().all()
        tasks = (await session.execute(select(Task).order_by(Task.id))).scalars().all()
        names = []
        for task in tasks:
            category = await session.get(Category, task.category_id)
            names.append(category.name if category else "?")
        print(f"PREFETCHED: {len(categories)} categories")
        return names
