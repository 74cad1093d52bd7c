"""Hidden checks: each prediction against a real run of lifecycle.py on a fresh database.

The key is observed, never stored: the app is driven through raw ASGI, its prints are captured, and
at the moment the response starts (SEND) a separate connection counts the committed rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

import dbkata
from dbkata.answers import read_answers
from dbkata.cluster import Database
from dbkata.observe import Printed, run_printing

from .lifecycle import create_app

QUIZ = read_answers(Path(__file__).parent)  # the student's answers, read as data


@dataclass(frozen=True)
class Run:
    """What one request did: the labels in order (SEND included), rows visible at SEND, the status."""

    labels: list[str]
    rows_at_send: int | None
    status: int | None


async def observe(db: Database, admin: AsyncEngine, path: str, *, title_taken: bool = False) -> Run:
    """POST ``path`` once on a fresh database and record what happened."""
    if title_taken:
        async with admin.begin() as conn:
            await conn.execute(text("insert into task (title) values ('Write the report')"))
    seen: list[int] = []
    statuses: list[int | None] = []
    engine = create_async_engine(db.url)
    app = create_app(async_sessionmaker(engine, expire_on_commit=False))

    async def request(printed: Printed) -> None:
        async def at_send() -> None:
            async with admin.connect() as conn:  # a separate connection: only committed rows
                seen.append(int((await conn.execute(text("select count(*) from task"))).scalar_one()))
            printed.mark("SEND")

        statuses.append((await dbkata.asgi_request(app, "POST", path, at_response_start=at_send)).status)

    try:
        printed = await run_printing(request)
    finally:
        await engine.dispose()
    return Run(printed.labels, seen[0] if seen else None, statuses[0] if statuses else None)


@pytest.mark.task(1)
async def test_default_order(db: Database, admin: AsyncEngine) -> None:
    QUIZ.check("default_order", (await observe(db, admin, "/tasks")).labels)


@pytest.mark.task(1)
async def test_default_rows_at_send(db: Database, admin: AsyncEngine) -> None:
    QUIZ.check("default_rows_at_send", (await observe(db, admin, "/tasks")).rows_at_send)


@pytest.mark.task(2)
async def test_early_order(db: Database, admin: AsyncEngine) -> None:
    QUIZ.check("early_order", (await observe(db, admin, "/tasks/early")).labels)


@pytest.mark.task(2)
async def test_early_rows_at_send(db: Database, admin: AsyncEngine) -> None:
    QUIZ.check("early_rows_at_send", (await observe(db, admin, "/tasks/early")).rows_at_send)


@pytest.mark.task(3)
async def test_duplicate_order(db: Database, admin: AsyncEngine) -> None:
    QUIZ.check("duplicate_order", (await observe(db, admin, "/tasks", title_taken=True)).labels)


@pytest.mark.task(3)
async def test_duplicate_status(db: Database, admin: AsyncEngine) -> None:
    QUIZ.check("duplicate_status", (await observe(db, admin, "/tasks", title_taken=True)).status)
