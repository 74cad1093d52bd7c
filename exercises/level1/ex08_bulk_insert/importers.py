"""The puzzle (given, read-only): three ways to insert many tasks, each in one transaction.

Read it, predict, write your predictions in answers.toml. The checks call each importer with an
engine on an empty database and a list of ``n`` titles, and count the INSERT statements it sends.
"""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from .models import Task


async def one_by_one(engine: AsyncEngine, titles: list[str]) -> None:
    """Add each task and flush it, then commit once."""
    async with async_sessionmaker(engine)() as session:
        for title in titles:
            session.add(Task(title=title))
            await session.flush()
        await session.commit()


async def all_at_once(engine: AsyncEngine, titles: list[str]) -> None:
    """Add all the tasks, then commit (the commit flushes them)."""
    async with async_sessionmaker(engine)() as session:
        session.add_all([Task(title=title) for title in titles])
        await session.commit()


async def core_insert(engine: AsyncEngine, titles: list[str]) -> None:
    """One Core INSERT with a list of parameter sets, then commit."""
    async with async_sessionmaker(engine)() as session:
        await session.execute(insert(Task), [{"title": title} for title in titles])
        await session.commit()
