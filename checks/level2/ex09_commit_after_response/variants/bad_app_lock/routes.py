"""Known-bad: an asyncio.Lock lets one create in at a time, so "is it free?" then INSERT cannot race.

Right while the app is one process; run as several (workers, replicas), the check passes for two
creates at once again. Only the database is shared by every process.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException
from sqlalchemy import select

from .deps import SessionDep
from .models import Task, TodoList
from .schemas import SwapIn, TaskIn, TaskOut

router = APIRouter()
_one_create_at_a_time = asyncio.Lock()  # FLAW: protects nothing across processes


@router.post("/lists/{list_id}/tasks", status_code=201, response_model=TaskOut)
async def create_task(list_id: int, body: TaskIn, session: SessionDep) -> Task:
    if await session.get(TodoList, list_id) is None:
        raise HTTPException(404, f"no list {list_id}")
    async with _one_create_at_a_time:
        taken = await session.scalar(select(Task.id).where(Task.list_id == list_id, Task.position == body.position))
        if taken is not None:
            raise HTTPException(409, f"position {body.position} is taken")
        task = Task(list_id=list_id, title=body.title, position=body.position)
        session.add(task)
        await session.commit()
    return task


@router.post("/lists/{list_id}/swap", response_model=list[TaskOut])
async def swap_positions(list_id: int, body: SwapIn, session: SessionDep) -> list[Task]:
    a, b = await session.get(Task, body.a), await session.get(Task, body.b)
    if a is None or b is None or a.list_id != list_id or b.list_id != list_id:
        raise HTTPException(404, "both tasks must exist in this list")
    a.position, b.position = b.position, a.position
    await session.commit()
    return list(await session.scalars(select(Task).where(Task.list_id == list_id).order_by(Task.position)))


@router.get("/lists/{list_id}/tasks", response_model=list[TaskOut])
async def list_tasks(list_id: int, session: SessionDep) -> list[Task]:
    return list(await session.scalars(select(Task).where(Task.list_id == list_id).order_by(Task.position)))
