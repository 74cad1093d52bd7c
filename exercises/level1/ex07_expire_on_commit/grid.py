"""The puzzle (given, read-only): four routes that create a task; where the commit is, and expire_on_commit.

Read it, predict, write your predictions in answers.toml. The checks send one POST to each route of
``create_app(engine)``, each on a fresh, empty database.
"""

# No `from __future__ import annotations` here: FastAPI must see the real annotations of routes
# defined inside a function.

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .models import Task


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str


def create_app(engine: AsyncEngine) -> FastAPI:
    app = FastAPI()
    keeping = async_sessionmaker(engine, expire_on_commit=False)
    expiring = async_sessionmaker(engine, expire_on_commit=True)  # the default

    async def keeping_session() -> AsyncIterator[AsyncSession]:
        async with keeping() as session:
            yield session
            await session.commit()  # a no-op when the route committed already

    async def expiring_session() -> AsyncIterator[AsyncSession]:
        async with expiring() as session:
            yield session
            await session.commit()

    Keeping = Annotated[AsyncSession, Depends(keeping_session)]
    Expiring = Annotated[AsyncSession, Depends(expiring_session)]

    @app.post("/flush/keeping", status_code=201, response_model=TaskOut)
    async def flush_keeping(session: Keeping) -> Task:
        task = Task(title="Buy milk")
        session.add(task)
        await session.flush()
        return task

    @app.post("/flush/expiring", status_code=201, response_model=TaskOut)
    async def flush_expiring(session: Expiring) -> Task:
        task = Task(title="Buy milk")
        session.add(task)
        await session.flush()
        return task

    @app.post("/commit/keeping", status_code=201, response_model=TaskOut)
    async def commit_keeping(session: Keeping) -> Task:
        task = Task(title="Buy milk")
        session.add(task)
        await session.commit()
        return task

    @app.post("/commit/expiring", status_code=201, response_model=TaskOut)
    async def commit_expiring(session: Expiring) -> Task:
        task = Task(title="Buy milk")
        session.add(task)
        await session.commit()
        return task

    return app
