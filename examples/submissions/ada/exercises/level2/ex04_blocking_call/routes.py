"""The task endpoints."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from .database import session_factory
from .models import Task

router = APIRouter()


class TaskIn(BaseModel):
    title: str = Field(min_length=1, max_length=100)


class TaskOut(BaseModel):
    id: int
    title: str
    done: bool


class Stats(BaseModel):
    total: int
    done: int


@router.get("/tasks")
async def list_tasks() -> list[TaskOut]:
    async with session_factory()() as session:  # awaiting the database lets other requests run
        tasks = (await session.scalars(select(Task).order_by(Task.id))).all()  # awaited, not blocking
        return [TaskOut(id=t.id, title=t.title, done=t.done) for t in tasks]


@router.get("/tasks/{task_id}")
async def get_task(task_id: int) -> TaskOut:
    async with session_factory()() as session:
        task = await session.get(Task, task_id)  # await: the loop serves other requests meanwhile
        if task is None:
            raise HTTPException(status_code=404, detail="Task not found")
        return TaskOut(id=task.id, title=task.title, done=task.done)


@router.get("/stats")
async def stats() -> Stats:
    async with session_factory()() as session:
        total, done = (await session.execute(select(func.count(), func.count().filter(Task.done)))).one()  # awaited
        return Stats(total=total, done=done)


@router.post("/tasks", status_code=201)
async def create_task(body: TaskIn) -> TaskOut:
    async with session_factory()() as session:
        task = Task(title=body.title, done=False)
        session.add(task)
        await session.commit()  # COMMIT is a round trip too: awaited
        return TaskOut(id=task.id, title=task.title, done=task.done)
