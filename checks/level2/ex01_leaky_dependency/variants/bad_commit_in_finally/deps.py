"""The request's database session: one per request, opened here and finished here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from .database import session_factory


async def get_session() -> AsyncIterator[AsyncSession]:
    """Give the route a session; commit what it did, then close the session."""
    session = session_factory()()
    try:
        yield session
    finally:  # FLAW: commits the half-done work of a request that failed
        await session.commit()
        await session.close()


SessionDep = Annotated[AsyncSession, Depends(get_session)]
