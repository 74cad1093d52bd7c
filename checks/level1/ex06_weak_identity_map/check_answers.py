"""Hidden checks: each prediction against the SELECT statements a lookups.py function really sends.

The key is observed, never stored: each function runs on a fresh database (3 categories, 40 tasks,
task n in category 1 + n % 3) inside dbkata.statements(), which counts every statement executed.
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
from dbkata.observe import run_printing
from dbkata.relay import Relay

from . import lookups

QUIZ = read_answers(Path(__file__).parent)  # the student's answers, read as data


@pytest.fixture
def url(db: Database, dbkata_relay: Relay) -> str:
    """The app role's URL through the harness's wire relay, where dbkata.statements() counts."""
    return dbkata_relay.url(db.app)


EXPECTED_NAMES = [f"Category {1 + n % 3}" for n in range(1, 41)]


async def selects(url: str, admin: AsyncEngine, puzzle: Callable[[AsyncEngine], Awaitable[list[str]]]) -> int:
    """Run one puzzle function on a fresh database; the number of SELECT statements it sent."""
    async with admin.begin() as conn:
        await conn.execute(text("insert into category (name) select 'Category ' || g from generate_series(1, 3) g"))
        await conn.execute(
            text("insert into task (title, category_id) select 'Task ' || n, 1 + n % 3 from generate_series(1, 40) n")
        )
    engine = create_async_engine(url)
    names: list[list[str]] = []

    async def call(_: object) -> None:
        names.append(await puzzle(engine))

    try:
        with dbkata.statements() as log:
            printed = await run_printing(call)
    finally:
        await engine.dispose()
    if printed.raised is not None or names != [EXPECTED_NAMES]:  # the puzzle itself misbehaved
        raise AssertionError(f"workbook fault: {puzzle.__name__} raised {printed.raised!r} or named wrongly")
    return len(log.of_kind("SELECT"))


@pytest.mark.task(1)
async def test_looked_up_selects(url: str, admin: AsyncEngine) -> None:
    QUIZ.check("looked_up_selects", await selects(url, admin, lookups.names_looked_up))


@pytest.mark.task(2)
async def test_kept_selects(url: str, admin: AsyncEngine) -> None:
    QUIZ.check("kept_selects", await selects(url, admin, lookups.names_kept))


@pytest.mark.task(2)
async def test_prefetched_selects(url: str, admin: AsyncEngine) -> None:
    QUIZ.check("prefetched_selects", await selects(url, admin, lookups.names_prefetched))
