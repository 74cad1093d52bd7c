"""The database session the routes use, and who commits it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from .database import session_factory

_session: AsyncSession | None = None


def shared_session() -> AsyncSession:
    """The app's session, opened on first use and kept: why pay for a new one on every request?"""
    global _session
    if _session is None:
        _session = session_factory()()
    return _session


_one_at_a_time = asyncio.Lock()


async def get_session() -> AsyncIterator[AsyncSession]:
    """Give the route the session; commit if the route returns, roll back if it raises."""
    # FLAW: every answer is right, but the lock makes the whole app serve one request at a time.
    async with _one_at_a_time:
        session = shared_session()
        try:
            yield session
            await session.commit()
        except Exception:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session)]
