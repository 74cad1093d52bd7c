"""The task endpoints (given). They never commit: get_session() owns the transaction."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from .deps import SessionDep
from .models import Task

router = APIRouter()


class TaskIn(BaseModel):
    title: str = Field(min_length=1, max_length=100)


class TaskOut(BaseModel):
    id: int
    title: str
    done: bool


@router.post("/tasks", status_code=201)
async def create_task(body: TaskIn, session: SessionDep) -> TaskOut:
    task = Task(title=body.title, done=False)
    session.add(task)
    try:
        await session.flush()  # the unique title is checked here
    except IntegrityError:
        raise HTTPException(status_code=409, detail=f"A task titled {body.title!r} already exists") from None
    return TaskOut(id=task.id, title=task.title, done=task.done)


@router.get("/tasks/{task_id}")
async def get_task(task_id: int, session: SessionDep) -> TaskOut:
    task = await session.get(Task, task_id)
    if task is None:
        raise HTTPException(status_code=404, detail="Task not found")
    return TaskOut(id=task.id, title=task.title, done=task.done)


@router.post("/tasks/{task_id}/done")
async def complete_task(task_id: int, session: SessionDep) -> TaskOut:
    task = await session.get(Task, task_id)
    if task is None:
        raise HTTPException(status_code=404, detail="Task not found")
    task.done = True
    return TaskOut(id=task.id, title=task.title, done=task.done)
