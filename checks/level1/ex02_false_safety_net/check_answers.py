"""Hidden checks: each prediction against a real run of the safety_net.py function it is about.

The key is observed, never stored: each function runs on a fresh database holding category 1
"Shopping" and task 1 "Buy milk"; its printed lines are captured and its exception is caught.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from dbkata.answers import read_answers
from dbkata.cluster import Database
from dbkata.observe import run_printing

from . import safety_net

QUIZ = read_answers(Path(__file__).parent)  # the student's answers, read as data

Puzzle = Callable[[AsyncEngine], Awaitable[None]]


async def observe(db: Database, admin: AsyncEngine, puzzle: Puzzle) -> tuple[set[str], BaseException | None]:
    """Run one puzzle function: the labels of the lines it printed, and what it raised (or None)."""
    async with admin.begin() as conn:
        await conn.execute(text("insert into category (name) values ('Shopping')"))
        await conn.execute(text("insert into task (title, category_id) values ('Buy milk', 1)"))
    engine = create_async_engine(db.url)
    try:
        printed = await run_printing(lambda _: puzzle(engine))
    finally:
        await engine.dispose()
    return set(printed.labels), printed.raised


@pytest.mark.task(1)
async def test_plain_printed(db: Database, admin: AsyncEngine) -> None:
    QUIZ.check("plain_printed", (await observe(db, admin, safety_net.plain))[0])


@pytest.mark.task(1)
async def test_plain_exception(db: Database, admin: AsyncEngine) -> None:
    QUIZ.check("plain_exception", (await observe(db, admin, safety_net.plain))[1])


@pytest.mark.task(2)
async def test_held_printed(db: Database, admin: AsyncEngine) -> None:
    QUIZ.check("held_printed", (await observe(db, admin, safety_net.category_held))[0])


@pytest.mark.task(2)
async def test_held_exception(db: Database, admin: AsyncEngine) -> None:
    QUIZ.check("held_exception", (await observe(db, admin, safety_net.category_held))[1])


@pytest.mark.task(2)
async def test_dropped_printed(db: Database, admin: AsyncEngine) -> None:
    QUIZ.check("dropped_printed", (await observe(db, admin, safety_net.category_dropped))[0])


@pytest.mark.task(2)
async def test_dropped_exception(db: Database, admin: AsyncEngine) -> None:
    QUIZ.check("dropped_exception", (await observe(db, admin, safety_net.category_dropped))[1])


@pytest.mark.task(3)
async def test_expiring_printed(db: Database, admin: AsyncEngine) -> None:
    QUIZ.check("expiring_printed", (await observe(db, admin, safety_net.expiring))[0])


@pytest.mark.task(3)
async def test_expiring_exception(db: Database, admin: AsyncEngine) -> None:
    QUIZ.check("expiring_exception", (await observe(db, admin, safety_net.expiring))[1])
