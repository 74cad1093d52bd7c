"""Hidden checks: each prediction against one real request to a grid.py route on a fresh database.

The key is observed, never stored: the app is driven through raw ASGI; the status is what the client
received, the exception is what the app raised out of the request, and the rows are counted from a
separate connection afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import dbkata
from dbkata.answers import read_answers
from dbkata.cluster import Database

from .grid import create_app

QUIZ = read_answers(Path(__file__).parent)  # the student's answers, read as data


@dataclass(frozen=True)
class Run:
    status: int | None
    raised: BaseException | None
    rows: int


async def observe(db: Database, admin: AsyncEngine, path: str) -> Run:
    """POST ``path`` once on a fresh database and record what happened."""
    engine = create_async_engine(db.url)
    try:
        result = await dbkata.asgi_request(create_app(engine), "POST", path)
    finally:
        await engine.dispose()
    async with admin.connect() as conn:  # a separate connection: what was committed
        rows = int((await conn.execute(text("select count(*) from task"))).scalar_one())
    return Run(result.status, result.app_error, rows)


@pytest.mark.task(1)
async def test_flush_keeping_status(db: Database, admin: AsyncEngine) -> None:
    QUIZ.check("flush_keeping_status", (await observe(db, admin, "/flush/keeping")).status)


@pytest.mark.task(1)
async def test_flush_expiring_status(db: Database, admin: AsyncEngine) -> None:
    QUIZ.check("flush_expiring_status", (await observe(db, admin, "/flush/expiring")).status)


@pytest.mark.task(2)
async def test_commit_keeping_status(db: Database, admin: AsyncEngine) -> None:
    QUIZ.check("commit_keeping_status", (await observe(db, admin, "/commit/keeping")).status)


@pytest.mark.task(2)
async def test_commit_expiring_status(db: Database, admin: AsyncEngine) -> None:
    QUIZ.check("commit_expiring_status", (await observe(db, admin, "/commit/expiring")).status)


@pytest.mark.task(2)
async def test_commit_expiring_exception(db: Database, admin: AsyncEngine) -> None:
    QUIZ.check("commit_expiring_exception", (await observe(db, admin, "/commit/expiring")).raised)


@pytest.mark.task(2)
async def test_commit_expiring_rows(db: Database, admin: AsyncEngine) -> None:
    QUIZ.check("commit_expiring_rows", (await observe(db, admin, "/commit/expiring")).rows)
