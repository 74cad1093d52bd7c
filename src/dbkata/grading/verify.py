"""``dbkata selfcheck``: verify the workbook before grading a class with it (the one self-check)."""

from __future__ import annotations

from collections.abc import Callable

from dbkata.catalog import Catalog
from dbkata.selfcheck import Verdict, selfcheck_all
from dbkata.server import EmbeddedServer


def verify(
    catalog: Catalog, exercise_ids: list[str], say: Callable[[str], None] = print, repeat: int = 1
) -> tuple[list[Verdict], list[str], str]:
    """The first run's verdicts, the expectations whose outcome changed over ``repeat`` runs, a summary line."""
    specs = [catalog.get(i) for i in exercise_ids] or list(catalog.exercises)
    server = EmbeddedServer()
    server.acquire()  # one server start for every run below (they attach in milliseconds)
    try:
        runs = [selfcheck_all(catalog, specs, say) for _ in range(max(1, repeat))]
    finally:
        server.release()
    verdicts = runs[0]
    first = {(v.exercise, v.target, v.expectation, v.ok) for v in verdicts}
    unstable = sorted(
        {
            f"UNSTABLE {v.exercise} · {v.target}: {v.expectation} (its outcome changed between runs)"
            for run in runs[1:]
            for v in run
            if (v.exercise, v.target, v.expectation, v.ok) not in first
        }
    )
    bad = [v for v in verdicts if not v.ok]
    summary = f"selfcheck: {len(verdicts) - len(bad)} of {len(verdicts)} expectations hold in {len(specs)} exercise(s)"
    summary += f"; {len(bad)} violation(s)" if bad else ""
    summary += f"; {len(unstable)} unstable over {repeat} runs" if repeat > 1 else ""
    return verdicts, unstable, summary
