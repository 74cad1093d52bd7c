"""The task dashboard: every task with the name of its category."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from .deps import SessionDep
from .models import Category, Task
from .schemas import TaskWithCategoryResponse

router = APIRouter()


@router.get("/dashboard/tasks")
async def task_dashboard(session: SessionDep) -> list[TaskWithCategoryResponse]:
    """All tasks, newest first (the higher id first when two were created at the same moment)."""
    # One SELECT: the task and its category's name side by side; no category -> NULL name.
    query = select(Task, Category.name).outerjoin(Task.category).order_by(Task.created_at.desc(), Task.id.desc())
    rows = (await session.execute(query)).all()
    return [
        TaskWithCategoryResponse(
            id=task.id,
            title=task.title,
            completed=task.completed,
            created_at=task.created_at,
            category_name=category_name,
        )
        for task, category_name in rows
    ]
