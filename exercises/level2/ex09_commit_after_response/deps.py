"""The request's session and its transaction (yours to fix, with routes.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from .database import session_factory


async def get_session() -> AsyncIterator[AsyncSession]:
    """One transaction per request: commit if the route returns, roll back if it raises."""
    async with session_factory()() as session:
        try:
            yield session
            await session.commit()
        except Exception:
            await session.rollback()
            raise


# TODO(task 1): when does the code after `yield` run, compared with the response being sent?
SessionDep = Annotated[AsyncSession, Depends(get_session)]
