"""The engine and the session factory, created on first use from ``DATABASE_URL``."""

from __future__ import annotations

import os
from functools import cache

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


@cache
def get_engine() -> AsyncEngine:
    """The app's one engine: a pool of 5 connections, plus up to 10 more under load."""
    # An async engine on asyncpg (the driver DATABASE_URL names): a query awaits, the loop runs other requests.
    return create_async_engine(os.environ["DATABASE_URL"], pool_size=5, max_overflow=10)


@cache
def session_factory() -> async_sessionmaker[AsyncSession]:
    """Makes the sessions the routes use; objects stay readable after commit."""
    return async_sessionmaker(get_engine(), expire_on_commit=False)  # AsyncSession: every query is awaited
