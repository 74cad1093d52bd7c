"""Hidden checks: each prediction against a real run of pool.main() on a fresh database.

The key is observed, never stored: main() runs ten reports at once with its prints captured; what
each report raised is its outcome. The reports hold their connections 2 s and waiters give up after
0.5 s, so which reports fail does not depend on the machine's speed (a 1.5 s margin either way).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dbkata.answers import exception_name, read_answers
from dbkata.cluster import Database
from dbkata.observe import Printed, run_printing

from .pool import main

QUIZ = read_answers(Path(__file__).parent)  # the student's answers, read as data


async def observe(db: Database, max_overflow: int) -> tuple[Printed, list[BaseException | None]]:
    """Run main() once: its printed lines, and each report's outcome."""
    outcomes: list[list[BaseException | None]] = []

    async def run(_: Printed) -> None:
        outcomes.append(await main(db.url, max_overflow))

    printed = await run_printing(run)
    if printed.raised is not None:
        raise printed.raised  # main() gathers the reports' exceptions itself: anything else is a workbook fault
    return printed, outcomes[0]


@pytest.mark.task(1)
async def test_sessions_before_first_done(db: Database) -> None:
    printed, _ = await observe(db, 0)
    labels = [label.split("-")[0] for label in printed.labels]
    before = labels[: labels.index("DONE")] if "DONE" in labels else labels
    QUIZ.check("sessions_before_first_done", before.count("SESSION"))


@pytest.mark.task(1)
async def test_failed(db: Database) -> None:
    _, outcomes = await observe(db, 0)
    QUIZ.check("failed", {str(n) for n, o in enumerate(outcomes) if o is not None})


@pytest.mark.task(1)
async def test_exception(db: Database) -> None:
    _, outcomes = await observe(db, 0)
    raised = sorted({exception_name(o) or "" for o in outcomes if o is not None})
    QUIZ.check("exception", raised[0] if len(raised) == 1 else ", ".join(raised) or None)


@pytest.mark.task(2)
async def test_overflow_failed(db: Database) -> None:
    _, outcomes = await observe(db, 2)
    QUIZ.check("overflow_failed", {str(n) for n, o in enumerate(outcomes) if o is not None})
