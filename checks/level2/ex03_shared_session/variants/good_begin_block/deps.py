"""The database session the routes use, and who commits it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from .database import session_factory


async def get_session() -> AsyncIterator[AsyncSession]:
    """Give the route the session; commit if the route returns, roll back if it raises."""
    async with session_factory().begin() as session:  # a new session per request: commits, or rolls back, then closes
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
