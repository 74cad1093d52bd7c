"""The SQL statements of a student's last local run, per test, kept for ``dbkata sql``.

Registered by the plugin only for a local run inside the workbook (code in the test process, no grader
report): after each test, the statements its code sent through the test's relay, grouped by shape with
the lines that issued them, go to ``.dbkata/sql/<level>/<exercise>.json``, one file per exercise that
ran, overwritten by the next run of that exercise. The records are small (capped) and deterministic
(no timestamps, ids or durations): the same code gives the same file.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import pytest

from dbkata import feedback, relay
from dbkata.probes.statements import Statement, start_recording, stop_recording

STATE = ".dbkata"
MAX_GROUPS = 12  # shapes kept per test
MAX_ORIGINS = 3  # issuing lines kept per shape
MAX_SQL = 400  # characters of a shape kept


def record_path(workbook: Path, exercise_id: str) -> Path:
    """Where the last run of ``exercise_id`` is kept."""
    return Path(workbook) / STATE / "sql" / f"{exercise_id}.json"


def groups(statements: Sequence[Statement]) -> list[dict[str, Any]]:
    """Statements by shape, most frequent first (then by shape), each with its issuing lines and counts."""
    by_shape: dict[str, Counter[str]] = {}
    for s in statements:
        by_shape.setdefault(s.shape, Counter())[s.origin] += 1
    ranked = sorted(by_shape.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    return [
        {
            "count": sum(origins.values()),
            "shape": shape if len(shape) <= MAX_SQL else shape[: MAX_SQL - 1] + "…",
            "origins": [[o, n] for o, n in sorted(origins.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_ORIGINS]],
        }
        for shape, origins in ranked[:MAX_GROUPS]
    ]


class LastRun:
    """Collects each exercise test's statements; writes one file per exercise at the end of the run."""

    def __init__(self, workbook: Path) -> None:
        self.workbook = workbook
        self.tests: dict[str, list[dict[str, Any]]] = {}  # exercise id -> its tests, in run order
        self._outcomes: dict[str, str] = {}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        exercise_id = feedback.exercise_id(Path(item.path))
        if exercise_id is None:
            return (yield)
        start_recording()
        try:
            return (yield)
        finally:
            wire = relay.current()  # still the test's relay: fixtures are torn down after the call
            if wire is not None:
                wire.settle()
            recorded = stop_recording(wire.statements() if wire is not None else [])
            if wire is not None:
                test = f"{Path(item.path).name}::{item.nodeid.split('::', 1)[-1]}"
                self._add(exercise_id, item.nodeid, test, recorded)

    def _add(self, exercise_id: str, nodeid: str, test: str, recorded: list[Statement]) -> None:
        entry = {"test": test, "nodeid": nodeid, "statements": len(recorded), "groups": groups(recorded)}
        self.tests.setdefault(exercise_id, []).append(entry)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or report.failed:
            self._outcomes[report.nodeid] = "failed" if report.failed else report.outcome

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        for exercise_id, tests in self.tests.items():
            for entry in tests:
                entry["outcome"] = self._outcomes.pop(entry.pop("nodeid"), "not run")
            path = record_path(self.workbook, exercise_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            record = {"format_version": 1, "exercise": exercise_id, "tests": tests}
            path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
