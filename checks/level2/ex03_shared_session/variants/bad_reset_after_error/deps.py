"""The database session the routes use, and who commits it."""

from __future__ import annotations

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


async def get_session() -> AsyncIterator[AsyncSession]:
    """Give the route the session; commit if the route returns, roll back if it raises."""
    global _session
    session = shared_session()
    try:
        yield session
        await session.commit()
    except Exception:
        await session.rollback()
        await session.close()
        _session = None  # FLAW: a fresh session after an error, still shared by every request until the next one
        raise


SessionDep = Annotated[AsyncSession, Depends(get_session)]
