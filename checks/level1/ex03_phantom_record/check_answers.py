"""Hidden checks: each prediction against a real run of phantom.main() on a fresh database.

The key is observed, never stored: main() runs with its prints captured, and each answer is compared
with the printed line it predicts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from dbkata.answers import read_answers
from dbkata.cluster import Database
from dbkata.observe import Printed, run_printing

from .phantom import main

QUIZ = read_answers(Path(__file__).parent)  # the student's answers, read as data


async def observe(db: Database) -> Printed:
    """Run main() once on a fresh database, its printed lines captured."""
    engine = create_async_engine(db.url)
    try:
        printed = await run_printing(lambda _: main(async_sessionmaker(engine, expire_on_commit=False)))
    finally:
        await engine.dispose()
    if printed.raised is not None:
        raise printed.raised  # main() catches the ValueError itself: anything else is a workbook fault
    return printed


def shown(printed: Printed, label: str) -> object:
    """The value a line showed; a line that was not printed shows nothing."""
    try:
        return printed.value(label)
    except KeyError:
        return "(this line was not printed)"


@pytest.mark.task(1)
async def test_printed(db: Database) -> None:
    QUIZ.check("printed", (await observe(db)).labels)


@pytest.mark.task(1)
async def test_category_id_after_add(db: Database) -> None:
    QUIZ.check("category_id_after_add", shown(await observe(db), "AFTER-ADD"))


@pytest.mark.task(1)
async def test_category_id_after_flush(db: Database) -> None:
    QUIZ.check("category_id_after_flush", shown(await observe(db), "AFTER-FLUSH"))


@pytest.mark.task(1)
async def test_task_id_after_flush(db: Database) -> None:
    QUIZ.check("task_id_after_flush", shown(await observe(db), "AFTER-SECOND-FLUSH"))


@pytest.mark.task(2)
async def test_task_exists(db: Database) -> None:
    QUIZ.check("task_exists", shown(await observe(db), "EXISTS"))


@pytest.mark.task(3)
async def test_next_category_id(db: Database) -> None:
    QUIZ.check("next_category_id", shown(await observe(db), "NEXT-CATEGORY"))


@pytest.mark.task(3)
async def test_next_task_id(db: Database) -> None:
    QUIZ.check("next_task_id", shown(await observe(db), "NEXT-TASK"))
