"""``grade.py selfcheck``: verify the workbook before grading a class with it (the one self-check)."""

from __future__ import annotations

from collections.abc import Callable

from dbkata.catalog import Catalog
from dbkata.selfcheck import Verdict, selfcheck_all
from dbkata.server import EmbeddedServer


def verify(catalog: Catalog, exercise_ids: list[str], say: Callable[[str], None] = print) -> tuple[list[Verdict], str]:
    """Every verdict of the chosen exercises (all when none is named), and a one-line summary."""
    specs = [catalog.get(i) for i in exercise_ids] or list(catalog.exercises)
    server = EmbeddedServer()
    server.acquire()  # one server start for every run below (they attach in milliseconds)
    try:
        verdicts = selfcheck_all(catalog, specs, say)
    finally:
        server.release()
    bad = [v for v in verdicts if not v.ok]
    summary = f"selfcheck: {len(verdicts) - len(bad)} of {len(verdicts)} expectations hold in {len(specs)} exercise(s)"
    return verdicts, summary + (f"; {len(bad)} violation(s)" if bad else "")
