"""The request's session and its transaction (reference solution)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .database import session_factory


async def get_session() -> AsyncIterator[AsyncSession]:
    """One transaction per request: commit if the route returns, roll back if it raises."""
    async with session_factory()() as session:
        try:
            yield session
            await session.commit()
        except IntegrityError as exc:  # a deferred constraint fails here, at COMMIT, not at flush
            await session.rollback()
            raise HTTPException(409, "the change conflicts with existing data") from exc  # still before the response
        except Exception:
            await session.rollback()
            raise


# scope="function": the code after `yield` (the COMMIT) runs before the response is sent, so a
# failing COMMIT can still turn the answer into an error instead of a 201 for nothing.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
