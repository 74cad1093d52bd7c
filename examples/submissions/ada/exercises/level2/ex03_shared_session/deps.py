"""The database session the routes use, and who commits it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from .database import session_factory


async def get_session() -> AsyncIterator[AsyncSession]:
    """Give the route the session; commit if the route returns, roll back if it raises."""
    # A session is one unit of work and not safe to share: every request gets its own, closed at its end
    # (sessions are cheap; the connections behind them come from the engine's pool).
    async with session_factory()() as session:
        try:
            yield session
            await session.commit()
        except Exception:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session)]
