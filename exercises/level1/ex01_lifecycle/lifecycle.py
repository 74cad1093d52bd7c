"""The puzzle (given, read-only): one session dependency, two routes that differ only in its scope.

Read it, predict, write your predictions in answers.toml. The checks run this very file.
"""

# No `from __future__ import annotations` here: FastAPI must see the real annotations of routes
# defined inside a function.

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .models import Task


def create_app(session_factory: async_sessionmaker[AsyncSession]) -> FastAPI:
    """The app; ``session_factory`` makes sessions with ``expire_on_commit=False``."""
    app = FastAPI()

    async def get_session() -> AsyncIterator[AsyncSession]:
        async with session_factory() as session:
            try:
                print("DEP-1: handing out the session")
                yield session
                print("DEP-2: the route returned, committing")
                await session.commit()
            except Exception:
                print("DEP-3: the route raised, rolling back")
                await session.rollback()
                raise
            finally:
                print("DEP-4: finally")

    @app.post("/tasks", status_code=201)
    async def create_task(session: Annotated[AsyncSession, Depends(get_session)]) -> dict[str, object]:
        print("ROUTE-1: in the route")
        task = Task(title="Write the report")
        session.add(task)
        await session.flush()
        print(f"ROUTE-2: flushed, task.id = {task.id}")
        return {"id": task.id, "title": task.title}

    @app.post("/tasks/early", status_code=201)
    async def create_task_early(
        session: Annotated[AsyncSession, Depends(get_session, scope="function")],
    ) -> dict[str, object]:
        print("ROUTE-1: in the route")
        task = Task(title="Write the report")
        session.add(task)
        await session.flush()
        print(f"ROUTE-2: flushed, task.id = {task.id}")
        return {"id": task.id, "title": task.title}

    return app
