"""The task dashboard: every task with the name of its category."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from .deps import SessionDep
from .models import Task
from .schemas import TaskWithCategoryResponse

router = APIRouter()


@router.get("/dashboard/tasks")
async def task_dashboard(session: SessionDep) -> list[TaskWithCategoryResponse]:
    """All tasks, newest first (the higher id first when two were created at the same moment)."""
    tasks = (await session.scalars(select(Task).order_by(Task.created_at.desc(), Task.id.desc()))).all()
    return [  # FLAW: task.category was never loaded: a lazy load inside async code (MissingGreenlet)
        TaskWithCategoryResponse(
            id=task.id,
            title=task.title,
            completed=task.completed,
            created_at=task.created_at,
            category_name=task.category.name if task.category is not None else None,
        )
        for task in tasks
    ]
