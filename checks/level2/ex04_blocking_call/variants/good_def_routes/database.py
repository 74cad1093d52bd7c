"""The engine and the session factory, created on first use from ``DATABASE_URL``."""

from __future__ import annotations

import os
from functools import cache

from sqlalchemy import Engine, create_engine, make_url
from sqlalchemy.orm import Session, sessionmaker


@cache
def get_engine() -> Engine:
    """The app's one engine: a pool of 5 connections, plus up to 10 more under load."""
    # A synchronous engine is fine here: the routes are plain `def` and run in worker threads.
    url = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql+psycopg")
    return create_engine(url, pool_size=5, max_overflow=10)


@cache
def session_factory() -> sessionmaker[Session]:
    """Makes the sessions the routes use; objects stay readable after commit."""
    return sessionmaker(get_engine(), expire_on_commit=False)
