"""What every code-task run must report: the workbook's checks and visible tests, collected from the starter.

The grader knows, from the workbook alone, every node id a run of an exercise reports: it collects the
pristine assembled tree (the committed starter, without the student-written test files) with pytest's
``--collect-only`` in a trusted subprocess of its own, never in the sandbox. Collection imports only
workbook files (the checks import dbkata and the exercise's given modules); the collector also records
any editable module that collection imported, since a check that does so would make the expected ids
depend on the submission (``Expected.problems`` says so, and the self-check reports it).

A report that lacks an expected id, names an unknown one, repeats one, or disagrees on an id's task or
guard flag is not a valid report: the run fails (``invalid_report``), it never passes. A run stopped at
its time limit keeps the tests it finished; each one it did not reach is recorded as ``missing`` (not
passed), so a timeout costs only the checks that did not finish.

``python -m dbkata.grading.expect FOLDER OUT.json PACKAGE MODULE...`` is the collector's entry point.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dbkata.assemble import assemble
from dbkata.catalog import Catalog, ExerciseSpec
from dbkata.grading.record import ExerciseRun
from dbkata.report import Kind, Outcome, Status, TestResult

_COLLECT_TIMEOUT = 300.0  # a safety net: collection takes about a second


class ExpectationError(RuntimeError):
    """The pristine tree could not be collected: a workbook (or grader) fault, never a student's."""


@dataclass(frozen=True)
class Expected:
    """Every node id one exercise's code-task run must report, with its kind, task and guard flag."""

    tests: Mapping[str, tuple[Kind, int | None, bool]] = field(default_factory=dict)
    problems: tuple[str, ...] = ()  # editable modules that collection imported

    def violations(self, reported: tuple[TestResult, ...]) -> list[str]:
        """What makes a run's report invalid: missing, unknown, duplicate or relabelled ids (empty: valid)."""
        counts = Counter(t.nodeid for t in reported)
        missing = sorted(set(self.tests) - set(counts))
        unknown = sorted(set(counts) - set(self.tests))
        duplicate = sorted(n for n, c in counts.items() if c > 1)
        relabelled = sorted(
            t.nodeid for t in reported if t.nodeid in self.tests and self.tests[t.nodeid] != (t.kind, t.task, t.guard)
        )
        parts = [("missing", missing), ("unknown", unknown), ("reported twice", duplicate)]
        parts.append(("with another task or guard flag than the workbook's", relabelled))
        return [f"{len(ids)} {what}: {_some(ids)}" for what, ids in parts if ids]

    def with_unfinished(self, reported: tuple[TestResult, ...], why: str) -> tuple[TestResult, ...]:
        """``reported``, and every expected id it lacks as ``missing``, in the workbook's order."""
        have = {t.nodeid for t in reported}
        unfinished = tuple(
            TestResult(nodeid, kind, task, Outcome.MISSING, guard, why)
            for nodeid, (kind, task, guard) in self.tests.items()
            if nodeid not in have
        )
        return reported + unfinished


def _some(ids: list[str], limit: int = 3) -> str:
    names = [i.split("::", 1)[-1] for i in ids[:limit]]
    return ", ".join(names) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def code_task_run(
    expected: Expected, status: Status, message: str | None, files: tuple[str, ...], tests: tuple[TestResult, ...]
) -> ExerciseRun:
    """The record of a code-task run; a completed run whose report does not match ``expected`` is invalid.

    A timed-out run that finished some tests keeps them, with the rest as ``missing``.
    """
    if status == Status.TIMEOUT and tests:
        tests = expected.with_unfinished(tests, f"did not finish: {message or 'the run reached its time limit'}")
    violations = expected.violations(tests) if status == Status.OK or (status == Status.TIMEOUT and tests) else []
    if violations:
        status = Status.INVALID_REPORT
        message = "the run's report does not list the workbook's tests and checks: " + "; ".join(violations)
    return ExerciseRun(status, message, files, tests)


def student_test_targets(catalog: Catalog, spec: ExerciseSpec) -> list[tuple[str, Path]]:
    """Where a student's test is run, in order: the correct versions (reference, ``good_*``), then the flawed."""
    variants = catalog.variants(spec)
    good = [(v.name, v) for v in variants if v.name.startswith("good_")]
    bad = [(v.name, v) for v in variants if v.name.startswith("bad_")]
    return [("solution", catalog.solution_dir(spec)), *good, ("starter", catalog.exercise_dir(spec)), *bad]


def remove_student_tests(spec: ExerciseSpec, folder: Path) -> None:
    """Take the student-written test files out of an assembled tree: they never run in the code-task run."""
    for task in spec.tasks:
        if task.student_test:
            (folder / task.student_test).unlink(missing_ok=True)


def collect_expected(catalog: Catalog, spec: ExerciseSpec) -> Expected:
    """Collect the pristine starter's tree in a trusted subprocess; ``ExpectationError`` if that fails."""
    with tempfile.TemporaryDirectory(prefix="dbkata-expect-") as tmp:
        folder = assemble(catalog, spec, catalog.exercise_dir(spec), Path(tmp) / "tree")
        remove_student_tests(spec, folder)
        out = Path(tmp) / "expected.json"
        modules = [Path(name).stem for name in spec.editable if name.endswith(".py")]
        command = [sys.executable, "-m", "dbkata.grading.expect", str(folder), str(out), spec.package, *modules]
        root = folder.parents[2]
        proc = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=_COLLECT_TIMEOUT, check=False)
        try:
            data = json.loads(out.read_text())
        except (OSError, ValueError):
            data = None
        if proc.returncode != 0 or not isinstance(data, dict) or data.get("errors"):
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            errors = "\n".join(data.get("errors", [])) if isinstance(data, dict) else ""
            raise ExpectationError(f"collecting the starter of {spec.id} failed:\n{errors or tail}")
        shutil.rmtree(folder, ignore_errors=True)
    tests = {
        str(t["nodeid"]): (Kind(t["kind"]), None if t["task"] is None else int(t["task"]), bool(t["guard"]))
        for t in data["tests"]
    }
    problems = tuple(f"collecting the checks imports the editable module {m}" for m in data["imported"])
    return Expected(tests, problems)


class Expectations:
    """The expected ids of each exercise, collected once per batch (thread-safe)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._cache: dict[str, Expected] = {}
        self._lock = threading.Lock()

    def of(self, spec: ExerciseSpec) -> Expected:
        """The expected ids of one exercise."""
        with self._lock:
            if spec.id not in self._cache:
                self._cache[spec.id] = collect_expected(self.catalog, spec)
            return self._cache[spec.id]


class _Collector:
    """A pytest plugin that keeps each collected item's node id, kind, task and guard flag."""

    def __init__(self) -> None:
        self.tests: list[dict[str, Any]] = []
        self.errors: list[str] = []

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            marker = item.get_closest_marker("task")
            kind = Kind.CHECK if item.path.name.startswith("check_") else Kind.TEST
            self.tests.append(
                {
                    "nodeid": item.nodeid,
                    "kind": kind.value,
                    "task": int(marker.args[0]) if marker and marker.args else None,
                    "guard": item.get_closest_marker("guard") is not None,
                }
            )

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(f"{report.nodeid}: {report.longreprtext[-3000:]}")


def _main(argv: list[str]) -> int:
    folder, out, package, *modules = argv
    collector = _Collector()
    root = Path(folder).parents[2]
    args = ["-q", "-p", "no:cacheprovider", "--rootdir", str(root), "-c", str(root / "pyproject.toml")]
    code = pytest.main([*args, "--collect-only", folder], plugins=[collector])
    imported = sorted(m for m in modules if f"{package}.{m}" in sys.modules)
    data = {"tests": collector.tests, "errors": collector.errors, "imported": imported, "exit_code": int(code)}
    Path(out).write_text(json.dumps(data))
    return 0 if code in (0, 5) else 1


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
