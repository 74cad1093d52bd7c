"""Hidden checks for task 4: the fixed create_task() (fix.py) run in the app process, on other data.

The run decides whether line E prints once nothing holds the category; the harness reads fix.py as
text (never imports it) to count the lines changed against create_task() in refresh.py.
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

from . import refresh

pytestmark = pytest.mark.task(4)

# Not the README's data: "Work" is category 3 here, and the task gets id 1.
CATEGORIES = ("Shopping", "Errands", "Work")
WANTED = [
    "A: task.id = 1",
    "B: task.category_id = 3",
    "C: task.id = 1",
    "D: task.title = Write the report",
    "E: task.category.name = Work",
]
SETUP = f"Ran dropped() with fix.create_task() on categories {', '.join(CATEGORIES)} (ids 1 to 3)."
ADVICE = "Line E needs task.category in memory once nothing else holds the category."


async def test_fix_prints_line_e(exercise: Exercise, admin: AsyncEngine) -> None:
    async with admin.begin() as conn:
        for name in CATEGORIES:
            await conn.execute(text("insert into category (name) values (:n)"), {"n": name})
    raised: AppError | None = None
    try:
        printed: list[str] = await exercise.call("run_fix.run")
    except AppError as exc:
        printed, raised = [], exc
    if raised is not None:  # failed outside the except block: no chained traceback in the message
        dbkata.fail(
            "dropped() with the fixed create_task() still raises",
            SETUP,
            f"It raised {raised.type_name}: {raised.message[:200]}",
            advice=ADVICE,
        )
    if printed != WANTED:
        dbkata.fail(
            "dropped() with the fixed create_task() does not print lines A to E as they should read",
            SETUP,
            "It printed:  " + (" | ".join(printed) or "nothing"),
            "Expected:    " + " | ".join(WANTED),
            advice=ADVICE,
        )


@pytest.mark.guard  # the untouched starter passes it
def test_fix_changes_one_line(exercise: Exercise) -> None:
    found = compare_fix(inspect.getsource(refresh), exercise.source_text("fix.py"), "create_task")
    if found.problems:
        dbkata.fail(
            "fix.py is not a copy of create_task() with one line changed",
            *found.problems,
            advice="fix.py holds its imports and create_task() only; put it back from git and change one line.",
        )
    if found.changed > 1:
        dbkata.fail(
            f"the fix changes {found.changed} lines of create_task(); the task allows one",
            *found.lines,
            advice="One line is enough (an import does not count). Which line could load the category?",
        )
