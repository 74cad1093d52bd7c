"""Dependency aliases for the routes (given)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header
from sqlalchemy.ext.asyncio import AsyncSession

from .database import get_session

# scope="function": the commit runs before the response is sent.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

# The gateway in front of the API authenticates the user and passes their id in this header.
CurrentUserId = Annotated[int, Header(alias="X-User-Id")]
