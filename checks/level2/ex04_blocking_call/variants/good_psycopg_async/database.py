"""The engine and the session factory, created on first use from ``DATABASE_URL``."""

from __future__ import annotations

import os
from functools import cache

from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


@cache
def get_engine() -> AsyncEngine:
    """The app's one engine: a pool of 5 connections, plus up to 10 more under load."""
    # psycopg 3 has an async mode too: with create_async_engine it is used through its asyncio API.
    url = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql+psycopg")
    return create_async_engine(url, pool_size=5, max_overflow=10)


@cache
def session_factory() -> async_sessionmaker[AsyncSession]:
    """Makes the sessions the routes use; objects stay readable after commit."""
    return async_sessionmaker(get_engine(), expire_on_commit=False)  # AsyncSession: every query is awaited
