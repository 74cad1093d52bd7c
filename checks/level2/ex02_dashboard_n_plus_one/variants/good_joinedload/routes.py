"""The task dashboard: every task with the name of its category."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .deps import SessionDep
from .models import Task
from .schemas import TaskWithCategoryResponse

router = APIRouter()


@router.get("/dashboard/tasks")
async def task_dashboard(session: SessionDep) -> list[TaskWithCategoryResponse]:
    """All tasks, newest first (the higher id first when two were created at the same moment)."""
    # joinedload: one SELECT, the categories come along through a LEFT OUTER JOIN
    query = select(Task).options(joinedload(Task.category)).order_by(Task.created_at.desc(), Task.id.desc())
    tasks = (await session.scalars(query)).all()
    return [
        TaskWithCategoryResponse(
            id=task.id,
            title=task.title,
            completed=task.completed,
            created_at=task.created_at,
            category_name=task.category.name if task.category is not None else None,
        )
        for task in tasks
    ]
