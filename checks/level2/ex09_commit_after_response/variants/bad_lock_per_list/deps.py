"""Alternative fix: the dependency only provides the session; each write route commits itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from .database import session_factory


async def get_session() -> AsyncIterator[AsyncSession]:
    async with session_factory()() as session:  # closing rolls back whatever was not committed
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
