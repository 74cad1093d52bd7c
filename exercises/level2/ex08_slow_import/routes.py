"""HTTP endpoints (given): the request's session owns the transaction, the importer does the work."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from .deps import SessionDep
from .errors import UnknownCategory
from .importer import import_tasks
from .schemas import ImportResult, TaskRow

router = APIRouter()


@router.post("/tasks/import", status_code=201, response_model=ImportResult)
async def post_import(rows: list[TaskRow], session: SessionDep) -> ImportResult:
    try:
        return ImportResult(imported=await import_tasks(session, rows))
    except UnknownCategory as exc:
        raise HTTPException(422, str(exc)) from exc
