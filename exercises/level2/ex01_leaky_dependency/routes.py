"""The task endpoints (given). They never commit: the request's session dependency owns the transaction."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import select

from .deps import SessionDep
from .models import Task

router = APIRouter()


class TaskIn(BaseModel):
    title: str = Field(min_length=1, max_length=100)


class TaskOut(BaseModel):
    id: int
    title: str


class BatchIn(BaseModel):
    titles: list[str] = Field(min_length=1)


@router.get("/tasks/{task_id}")
async def get_task(task_id: int, session: SessionDep) -> TaskOut:
    task = await session.get(Task, task_id)
    if task is None:
        raise HTTPException(status_code=404, detail="Task not found")
    return TaskOut(id=task.id, title=task.title)


@router.post("/tasks", status_code=201)
async def create_task(body: TaskIn, session: SessionDep) -> TaskOut:
    task = Task(title=body.title)
    session.add(task)
    await session.flush()  # assigns task.id
    return TaskOut(id=task.id, title=task.title)


@router.post("/tasks/batch", status_code=201)
async def create_tasks(body: BatchIn, session: SessionDep) -> list[TaskOut]:
    """Create several tasks at once: all of them, or none if one title is already taken."""
    created = []
    for title in body.titles:
        taken = await session.scalar(select(Task.id).where(Task.title == title))
        if taken is not None:
            raise HTTPException(status_code=409, detail=f"A task titled {title!r} already exists")
        task = Task(title=title)
        session.add(task)
        await session.flush()
        created.append(TaskOut(id=task.id, title=task.title))
    return created
