"""The request's database session: one per request, opened here and finished here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from .database import session_factory


async def get_session() -> AsyncIterator[AsyncSession]:
    """Give the route a session; commit what it did, then close the session."""
    async with session_factory()() as session:  # closes the session on every path, also when the route raises
        try:
            yield session
            await session.commit()  # reached only when the route returned normally
        except Exception:
            await session.rollback()  # a failed request keeps nothing it flushed
            raise  # FastAPI still turns the error into its 404/409/500 response


SessionDep = Annotated[AsyncSession, Depends(get_session)]
