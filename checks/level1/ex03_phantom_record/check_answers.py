"""Hidden checks: each prediction against a real run of phantom.main() on a fresh database.

The key is observed, never stored: main() runs with its prints captured, and each answer is compared
with the printed line it predicts.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from dbkata.answers import read_answers
from dbkata.cluster import Database

from .phantom import main

QUIZ = read_answers(Path(__file__).parent)  # the student's answers, read as data


def parse(value: str) -> object:
    """A printed value as Python would have printed it: None, True/False, a number, or text."""
    words: dict[str, object] = {"None": None, "True": True, "False": False}
    if value in words:
        return words[value]
    return int(value) if value.lstrip("-").isdigit() else value


async def observe(db: Database) -> tuple[list[str], dict[str, object]]:
    """Run main() once on a fresh database: the labels in order, and the value each line printed."""
    engine = create_async_engine(db.url)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            await main(async_sessionmaker(engine, expire_on_commit=False))
    finally:
        await engine.dispose()
    labels, values = [], {}
    for line in out.getvalue().splitlines():
        label, _, rest = line.partition(":")
        labels.append(label.strip())
        if " = " in rest:
            values[label.strip()] = parse(rest.rsplit(" = ", 1)[1].strip())
    return labels, values


@pytest.mark.task(1)
async def test_printed(db: Database) -> None:
    labels, _ = await observe(db)
    QUIZ.check("printed", labels)


@pytest.mark.task(1)
async def test_category_id_after_add(db: Database) -> None:
    _, values = await observe(db)
    QUIZ.check("category_id_after_add", values.get("AFTER-ADD"))


@pytest.mark.task(1)
async def test_category_id_after_flush(db: Database) -> None:
    _, values = await observe(db)
    QUIZ.check("category_id_after_flush", values.get("AFTER-FLUSH"))


@pytest.mark.task(1)
async def test_task_id_after_flush(db: Database) -> None:
    _, values = await observe(db)
    QUIZ.check("task_id_after_flush", values.get("AFTER-SECOND-FLUSH"))


@pytest.mark.task(2)
async def test_task_exists(db: Database) -> None:
    _, values = await observe(db)
    QUIZ.check("task_exists", values.get("EXISTS"))


@pytest.mark.task(3)
async def test_next_category_id(db: Database) -> None:
    _, values = await observe(db)
    QUIZ.check("next_category_id", values.get("NEXT-CATEGORY"))


@pytest.mark.task(3)
async def test_next_task_id(db: Database) -> None:
    _, values = await observe(db)
    QUIZ.check("next_task_id", values.get("NEXT-TASK"))
