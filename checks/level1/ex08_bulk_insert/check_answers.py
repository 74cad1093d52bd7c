"""Hidden checks: each prediction against the INSERT statements an importers.py function really sends.

The key is observed, never stored: each importer runs on a fresh database inside dbkata.statements(),
which counts the statements on the harness's wire relay; afterwards a separate connection confirms
every row arrived.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import dbkata
from dbkata.answers import read_answers
from dbkata.cluster import Database
from dbkata.relay import Relay

from . import importers

QUIZ = read_answers(Path(__file__).parent)  # the student's answers, read as data


@pytest.fixture
def url(db: Database, dbkata_relay: Relay) -> str:
    """The app role's URL through the harness's wire relay, where dbkata.statements() counts."""
    return dbkata_relay.url(db.app)


Importer = Callable[[AsyncEngine, list[str]], Awaitable[None]]


async def inserts(url: str, admin: AsyncEngine, importer: Importer, n: int) -> int:
    """Run one importer with ``n`` titles on a fresh database; the INSERT statements it sent."""
    engine = create_async_engine(url)
    try:
        with dbkata.statements() as log:
            await importer(engine, [f"Task {i}" for i in range(n)])
    finally:
        await engine.dispose()
    async with admin.connect() as conn:
        saved = int((await conn.execute(text("select count(*) from task"))).scalar_one())
    if saved != n:  # the puzzle itself misbehaved: a workbook fault, not the student's
        raise AssertionError(f"workbook fault: {importer.__name__} saved {saved} of {n} rows")
    return len(log.of_kind("INSERT"))


@pytest.mark.task(1)
async def test_one_by_one_inserts(url: str, admin: AsyncEngine) -> None:
    QUIZ.check("one_by_one_inserts", await inserts(url, admin, importers.one_by_one, 2000))


@pytest.mark.task(2)
async def test_all_at_once_inserts(url: str, admin: AsyncEngine) -> None:
    QUIZ.check("all_at_once_inserts", await inserts(url, admin, importers.all_at_once, 2000))


@pytest.mark.task(2)
async def test_all_at_once_2500_inserts(url: str, admin: AsyncEngine) -> None:
    QUIZ.check("all_at_once_2500_inserts", await inserts(url, admin, importers.all_at_once, 2500))
