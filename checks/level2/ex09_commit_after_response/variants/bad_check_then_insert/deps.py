"""Known-bad: commits before the response; a conflict the route did not see coming answers 500."""

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


# scope="function": the code after `yield` (the COMMIT) runs before the response is sent, so a
# failing COMMIT can still turn the answer into an error instead of a 201 for nothing.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
