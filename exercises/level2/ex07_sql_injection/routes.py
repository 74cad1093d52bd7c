"""HTTP endpoints (given)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from .deps import CurrentUserId, SessionDep
from .errors import UnknownSortKey
from .repo import search_tasks
from .schemas import TaskOut

router = APIRouter()


@router.get("/tasks/search", response_model=list[TaskOut])
async def search(user_id: CurrentUserId, session: SessionDep, q: str = "", sort: str = "id") -> list[TaskOut]:
    try:
        return await search_tasks(session, owner_id=user_id, q=q, sort=sort)
    except UnknownSortKey as exc:
        raise HTTPException(422, str(exc)) from exc
