"""The request's database session: one per request, opened here and finished here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from .database import session_factory


async def get_session() -> AsyncIterator[AsyncSession]:
    """Give the route a session; commit what it did, then close the session."""
    async with session_factory()() as session:  # FLAW: closes (and so rolls back) even a successful request
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
