"""``grade.py selfcheck``: verify the workbook before grading a class with it."""

from __future__ import annotations

from dbkata.catalog import Catalog
from dbkata.selfcheck import Verdict, selfcheck_exercise


def verify(catalog: Catalog, exercise_ids: list[str]) -> tuple[list[Verdict], str]:
    """Every verdict of the chosen exercises (all when none is named), and a one-line summary."""
    specs = [catalog.get(i) for i in exercise_ids] or list(catalog.exercises)
    verdicts = [v for spec in specs for v in selfcheck_exercise(catalog, spec)]
    bad = [v for v in verdicts if not v.ok]
    summary = f"selfcheck: {len(verdicts) - len(bad)} of {len(verdicts)} expectations hold in {len(specs)} exercise(s)"
    return verdicts, summary + (f"; {len(bad)} violation(s)" if bad else "")
