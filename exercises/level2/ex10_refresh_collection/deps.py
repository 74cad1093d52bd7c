"""Dependency aliases for the routes (given)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from .database import get_session

# scope="function": the commit runs before the response is sent, so a 201 means "committed".
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
