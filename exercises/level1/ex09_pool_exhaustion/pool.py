"""The puzzle (given, read-only): ten reports at once on a pool of three connections.

Read it, predict, write your predictions in answers.toml. The checks call ``main(url, max_overflow)``
with the URL of an empty database, once with ``max_overflow=0`` and once with ``max_overflow=2``.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine


async def report(number: int, session_factory: async_sessionmaker[AsyncSession]) -> None:
    """One request: open a session, run a report that takes 2 seconds."""
    async with session_factory() as session:
        print(f"SESSION-{number}: session opened")
        await session.execute(text("select pg_sleep(2)"))
        print(f"DONE-{number}: report finished")


async def main(url: str, max_overflow: int) -> list[BaseException | None]:
    """Start reports 0 to 9 at the same moment; what each one raised (None: it succeeded)."""
    engine = create_async_engine(url, pool_size=3, max_overflow=max_overflow, pool_timeout=0.5)
    try:
        session_factory = async_sessionmaker(engine)
        outcomes = await asyncio.gather(*(report(n, session_factory) for n in range(10)), return_exceptions=True)
    finally:
        await engine.dispose()
    for number, outcome in enumerate(outcomes):
        if outcome is not None:
            print(f"FAILED-{number}: {type(outcome).__name__}")
    return [o if isinstance(o, BaseException) else None for o in outcomes]
