"""The request's database session: one per request, opened here and finished here."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine


async def get_session() -> AsyncIterator[AsyncSession]:
    """Give the route a session; commit what it did, then close the session."""
    # Known bad: every session is finished correctly, but each request builds its own engine (and its
    # own pool) and never disposes it, so every request leaves one more idle server connection behind.
    engine = create_async_engine(os.environ["DATABASE_URL"])
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        try:
            yield session
            await session.commit()
        except Exception:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session)]
