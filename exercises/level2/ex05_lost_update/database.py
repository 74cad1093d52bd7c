"""The engine and the session factory, created on first use from ``DATABASE_URL`` (given)."""

from __future__ import annotations

import os
from functools import cache

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


@cache
def get_engine() -> AsyncEngine:
    """The app's one engine: a pool of 5 connections, plus up to 10 more under load."""
    return create_async_engine(os.environ["DATABASE_URL"], pool_size=5, max_overflow=10)


@cache
def session_factory() -> async_sessionmaker[AsyncSession]:
    """Makes the sessions requests use; objects stay readable after commit."""
    return async_sessionmaker(get_engine(), expire_on_commit=False)
