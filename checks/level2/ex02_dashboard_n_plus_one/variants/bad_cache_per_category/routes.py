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
    tasks = (await session.scalars(select(Task).order_by(Task.created_at.desc(), Task.id.desc()))).all()
    names: dict[int, str] = {}
    response = []
    for task in tasks:
        if task.category_id is not None and task.category_id not in names:
            # FLAW: a cache per request still sends one SELECT per distinct category
            category = await session.get(Category, task.category_id)
            names[task.category_id] = category.name if category is not None else ""
        response.append(
            TaskWithCategoryResponse(
                id=task.id,
                title=task.title,
                completed=task.completed,
                created_at=task.created_at,
                category_name=names.get(task.category_id) if task.category_id is not None else None,
            )
        )
    return response
