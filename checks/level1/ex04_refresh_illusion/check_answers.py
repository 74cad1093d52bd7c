"""Hidden checks: each prediction against a real run of the refresh.py function it is about.

The key is observed, never stored: each function runs on a fresh database holding categories 1
"Shopping" and 2 "Work"; its printed lines are captured, its exception caught, and its SELECT
statements counted with dbkata.statements().
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import dbkata
from dbkata.answers import read_answers
from dbkata.cluster import Database
from dbkata.observe import run_printing
from dbkata.relay import Relay

from . import refresh

QUIZ = read_answers(Path(__file__).parent)  # the student's answers, read as data


@pytest.fixture
def url(db: Database, dbkata_relay: Relay) -> str:
    """The app role's URL through the harness's wire relay, where dbkata.statements() counts."""
    return dbkata_relay.url(db.app)


Puzzle = Callable[[AsyncEngine], Awaitable[None]]


@dataclass(frozen=True)
class Run:
    printed: set[str]
    raised: BaseException | None
    selects: int


async def observe(url: str, admin: AsyncEngine, puzzle: Puzzle) -> Run:
    """Run one puzzle function on a fresh database and record what it did."""
    async with admin.begin() as conn:
        await conn.execute(text("insert into category (name) values ('Shopping'), ('Work')"))
    engine = create_async_engine(url)
    try:
        with dbkata.statements() as log:
            printed = await run_printing(lambda _: puzzle(engine))
    finally:
        await engine.dispose()
    return Run(set(printed.labels), printed.raised, len(log.of_kind("SELECT")))


@pytest.mark.task(1)
async def test_held_printed(url: str, admin: AsyncEngine) -> None:
    QUIZ.check("held_printed", (await observe(url, admin, refresh.held)).printed)


@pytest.mark.task(1)
async def test_held_exception(url: str, admin: AsyncEngine) -> None:
    QUIZ.check("held_exception", (await observe(url, admin, refresh.held)).raised)


@pytest.mark.task(1)
async def test_held_selects(url: str, admin: AsyncEngine) -> None:
    QUIZ.check("held_selects", (await observe(url, admin, refresh.held)).selects)


@pytest.mark.task(2)
async def test_dropped_printed(url: str, admin: AsyncEngine) -> None:
    QUIZ.check("dropped_printed", (await observe(url, admin, refresh.dropped)).printed)


@pytest.mark.task(2)
async def test_dropped_exception(url: str, admin: AsyncEngine) -> None:
    QUIZ.check("dropped_exception", (await observe(url, admin, refresh.dropped)).raised)


@pytest.mark.task(2)
async def test_expunged_printed(url: str, admin: AsyncEngine) -> None:
    QUIZ.check("expunged_printed", (await observe(url, admin, refresh.expunged)).printed)


@pytest.mark.task(2)
async def test_expunged_exception(url: str, admin: AsyncEngine) -> None:
    QUIZ.check("expunged_exception", (await observe(url, admin, refresh.expunged)).raised)
