"""The task endpoints."""

from __future__ import annotations

import asyncio

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


_db_lock = asyncio.Lock()


@router.get("/tasks")
async def list_tasks() -> list[TaskOut]:
    # FLAW: "one query at a time is safer": every request waits for the one before it
    async with _db_lock, session_factory()() as session:
        tasks = (await session.scalars(select(Task).order_by(Task.id))).all()
        return [TaskOut(id=t.id, title=t.title, done=t.done) for t in tasks]


@router.get("/tasks/{task_id}")
async def get_task(task_id: int) -> TaskOut:
    # FLAW: "one query at a time is safer": every request waits for the one before it
    async with _db_lock, session_factory()() as session:
        task = await session.get(Task, task_id)
        if task is None:
            raise HTTPException(status_code=404, detail="Task not found")
        return TaskOut(id=task.id, title=task.title, done=task.done)


@router.get("/stats")
async def stats() -> Stats:
    # FLAW: "one query at a time is safer": every request waits for the one before it
    async with _db_lock, session_factory()() as session:
        total, done = (await session.execute(select(func.count(), func.count().filter(Task.done)))).one()
        return Stats(total=total, done=done)


@router.post("/tasks", status_code=201)
async def create_task(body: TaskIn) -> TaskOut:
    # FLAW: "one query at a time is safer": every request waits for the one before it
    async with _db_lock, session_factory()() as session:
        task = Task(title=body.title, done=False)
        session.add(task)
        await session.commit()
        return TaskOut(id=task.id, title=task.title, done=task.done)
