"""The request's database session (given): committed if the route returns, rolled back if it raises."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from .database import session_factory


async def get_session() -> AsyncIterator[AsyncSession]:
    """One session per request; always closed."""
    async with session_factory()() as session, session.begin():
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
