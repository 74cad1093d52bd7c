"""Known-bad: maps IntegrityError to 409 around flush, where a deferred constraint never fails."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .deps import SessionDep
from .models import Task, TodoList
from .schemas import SwapIn, TaskIn, TaskOut

router = APIRouter()


@router.post("/lists/{list_id}/tasks", status_code=201, response_model=TaskOut)
async def create_task(list_id: int, body: TaskIn, session: SessionDep) -> Task:
    if await session.get(TodoList, list_id) is None:
        raise HTTPException(404, f"no list {list_id}")
    task = Task(list_id=list_id, title=body.title, position=body.position)
    session.add(task)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise HTTPException(409, "position taken") from exc
    return task


@router.post("/lists/{list_id}/swap", response_model=list[TaskOut])
async def swap_positions(list_id: int, body: SwapIn, session: SessionDep) -> list[Task]:
    a, b = await session.get(Task, body.a), await session.get(Task, body.b)
    if a is None or b is None or a.list_id != list_id or b.list_id != list_id:
        raise HTTPException(404, "both tasks must exist in this list")
    a.position, b.position = b.position, a.position
    await session.flush()
    return list(await session.scalars(select(Task).where(Task.list_id == list_id).order_by(Task.position)))


@router.get("/lists/{list_id}/tasks", response_model=list[TaskOut])
async def list_tasks(list_id: int, session: SessionDep) -> list[Task]:
    return list(await session.scalars(select(Task).where(Task.list_id == list_id).order_by(Task.position)))
