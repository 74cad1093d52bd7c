"""Hidden checks: each prediction against a real run of visibility.main() on a fresh database.

The key is observed, never stored: main() runs with its prints captured; each count it prints was
read by one of its own connections at that moment.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from dbkata.answers import read_answers
from dbkata.cluster import Database
from dbkata.observe import Printed, run_printing

from .visibility import main

QUIZ = read_answers(Path(__file__).parent)  # the student's answers, read as data


async def observe(db: Database) -> Printed:
    """Run main() once on a fresh database, its printed lines captured."""
    engine = create_async_engine(db.url)
    try:
        printed = await run_printing(lambda _: main(engine))
    finally:
        await engine.dispose()
    if printed.raised is not None:
        raise printed.raised  # main() raises nothing on this stack: anything else is a workbook fault
    return printed


@pytest.mark.task(1)
async def test_after_add(db: Database) -> None:
    QUIZ.check("after_add", (await observe(db)).value("ADD"))


@pytest.mark.task(1)
async def test_session_count(db: Database) -> None:
    QUIZ.check("session_count", (await observe(db)).value("SESSION"))


@pytest.mark.task(1)
async def test_after_flush(db: Database) -> None:
    QUIZ.check("after_flush", (await observe(db)).value("FLUSH"))


@pytest.mark.task(2)
async def test_after_commit(db: Database) -> None:
    QUIZ.check("after_commit", (await observe(db)).value("COMMIT"))


@pytest.mark.task(2)
async def test_snapshot_after_commit(db: Database) -> None:
    QUIZ.check("snapshot_after_commit", (await observe(db)).value("COMMIT-SNAPSHOT"))
