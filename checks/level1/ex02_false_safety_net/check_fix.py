"""Hidden checks for task 5: the fixed read_task() (fix.py) run in the app process, on other data.

The run decides whether line C prints, with the category's real name; the harness reads fix.py as
text (never imports it) to count the lines changed against read_task() in safety_net.py.
"""

from __future__ import annotations

import inspect

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata.app.codec import AppError
from dbkata.exercise import Exercise
from dbkata.fixes import compare_fix

from . import safety_net

pytestmark = pytest.mark.task(5)

CATEGORY, TITLE = "Garden", "Water the plants"  # not the README's data: a typed-in name does not pass
WANTED = [
    f"A: before commit, title = {TITLE}",
    f"B: after commit, title = {TITLE}",
    f"C: after commit, category = {CATEGORY}",
]
ADVICE = "Line C needs task.category in memory before it is read."


async def test_fix_prints_line_c(exercise: Exercise, admin: AsyncEngine) -> None:
    async with admin.begin() as conn:
        await conn.execute(text("insert into category (name) values (:n)"), {"n": CATEGORY})
        await conn.execute(text("insert into task (title, category_id) values (:t, 1)"), {"t": TITLE})
    raised: AppError | None = None
    try:
        printed: list[str] = await exercise.call("run_fix.run")
    except AppError as exc:
        printed, raised = [], exc
    if raised is not None:  # failed outside the except block: no chained traceback in the message
        dbkata.fail(
            "the fixed read_task() still raises",
            f"Ran fix.read_task() with expire_on_commit=False on category 1 {CATEGORY!r} and task 1 {TITLE!r}.",
            f"It raised {raised.type_name}: {raised.message[:200]}",
            advice=ADVICE,
        )
    if printed != WANTED:
        dbkata.fail(
            "the fixed read_task() does not print lines A, B and C as they should read",
            f"Ran fix.read_task() with expire_on_commit=False on category 1 {CATEGORY!r} and task 1 {TITLE!r}.",
            "It printed:  " + (" | ".join(printed) or "nothing"),
            "Expected:    " + " | ".join(WANTED),
            advice=ADVICE,
        )


@pytest.mark.guard  # the untouched starter passes it
def test_fix_changes_one_line(exercise: Exercise) -> None:
    given = inspect.getsource(safety_net)
    found = compare_fix(given, exercise.source_text("fix.py"), "read_task")
    if found.problems:
        dbkata.fail(
            "fix.py is not a copy of read_task() with one line changed",
            *found.problems,
            advice="fix.py holds its imports and read_task() only; put it back from git and change one line.",
        )
    if found.changed > 1:
        dbkata.fail(
            f"the fix changes {found.changed} lines of read_task(); the task allows one",
            *found.lines,
            advice="One line is enough (an import does not count). Which line has to know about the category?",
        )
