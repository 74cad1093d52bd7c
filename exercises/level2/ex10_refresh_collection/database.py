"""The engine and one session per request (given: correct as it is)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

_factory: async_sessionmaker[AsyncSession] | None = None


def session_factory() -> async_sessionmaker[AsyncSession]:
    """The session factory, bound to ``$DATABASE_URL`` (created on first use, never at import)."""
    global _factory
    if _factory is None:
        _factory = async_sessionmaker(create_async_engine(os.environ["DATABASE_URL"]), expire_on_commit=False)
    return _factory


async def get_session() -> AsyncIterator[AsyncSession]:
    """One transaction per request: commit if the route returns, roll back if it raises."""
    async with session_factory()() as session:
        try:
            yield session
            await session.commit()
        except Exception:
            await session.rollback()
            raise
