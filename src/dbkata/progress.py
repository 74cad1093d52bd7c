"""The end-of-run summary a student sees: tasks done per exercise, points, what to do next.

A task is done only when every one of its visible tests ran in this run and passed: a test deselected
(``-k``), skipped, not reached (``-x``, an interrupted run), or in a test file of the exercise that was
not collected leaves the task open. Exercises are listed, and the next step is chosen, in the manifest's
order. Inside a workbook, each exercise's outcome is also kept in ``.dbkata/results.json``
(:mod:`dbkata.results`) for ``dbkata status`` and ``dbkata solution``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dbkata import feedback, results
from dbkata.catalog import MANIFEST, Catalog, CatalogError, load_catalog


@dataclass
class _Exercise:
    tasks: dict[int, bool] = field(default_factory=dict)  # task -> every test that ran passed
    files: set[Path] = field(default_factory=set)  # test files collected
    partial: set[int] = field(default_factory=set)  # tasks with a deselected test
    pending: dict[str, int | None] = field(default_factory=dict)  # collected, no outcome yet: nodeid -> task
    passed: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    deselected: bool = False


class Progress:
    """Collects outcomes per (exercise, task) and writes the summary."""

    def __init__(self, root: Path) -> None:
        self.exercises: dict[str, _Exercise] = {}
        self._where: dict[str, tuple[str, int | None]] = {}
        self._root = root
        self._catalog = _catalog(root)

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            self._locate(item)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        for item in items:
            where = self._locate(item)
            if where:
                exercise = self.exercises[where[0]]
                exercise.deselected = True
                exercise.pending.pop(item.nodeid, None)
                if where[1] is not None:
                    exercise.partial.add(where[1])

    def _locate(self, item: pytest.Item) -> tuple[str, int | None] | None:
        context = feedback.context_of(item)
        if not context.exercise:
            return None
        where = (context.exercise, context.task)
        self._where[item.nodeid] = where
        exercise = self.exercises.setdefault(where[0], _Exercise())
        exercise.files.add(Path(item.path))
        exercise.pending[item.nodeid] = context.task
        if context.task is not None:
            exercise.tasks.setdefault(context.task, True)
        return where

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        where = self._where.get(report.nodeid)
        if where is None or (report.when != "call" and not report.failed and not report.skipped):
            return
        exercise = self.exercises[where[0]]
        exercise.pending.pop(report.nodeid, None)
        (exercise.passed if report.passed else exercise.failed).add(report.nodeid)
        if where[1] is not None:
            exercise.tasks[where[1]] = exercise.tasks[where[1]] and report.passed

    def lines(self) -> list[str]:
        """The summary, deterministic: one line per exercise that ran, points, the next step."""
        order = [s.id for s in self._catalog.exercises] if self._catalog else []
        names = sorted(self.exercises, key=lambda n: (order.index(n) if n in order else len(order), n))
        width = max(len(n) for n in names)
        out, done_points, total_points = [], 0.0, 0.0
        next_up: tuple[str, int | None] | None = None
        for name in names:
            if not self.exercises[name].tasks:  # a predict exercise: its visible test checks the answers' form
                complete = self._answers_complete(name)
                out.append(f"{name:<{width}}  answers " + (PREDICTED if complete else "not complete yet"))
                if not complete and next_up is None:
                    next_up = (name, None)
                continue
            states = self._states(name)
            marks = "  ".join(f"task {n} {_MARK[s]}" for n, s in sorted(states.items()))
            passed = sum(s == "done" for s in states.values())
            out.append(f"{name:<{width}}  {marks}  ({passed}/{len(states)})")
            points = self._points(name)
            done_points += sum(points.get(n, 0.0) for n, s in states.items() if s == "done")
            total_points += sum(points.get(n, 0.0) for n in states)
            open_tasks = [n for n, s in sorted(states.items()) if s != "done"]
            if open_tasks and next_up is None:
                next_up = (name, open_tasks[0])
        tasked = [n for n in names if self.exercises[n].tasks]
        done = sum(s == "done" for n in tasked for s in self._states(n).values())
        total = sum(len(self._states(n)) for n in tasked)
        scored = f", {done_points:g}/{total_points:g} points" if total_points else ""  # none outside a manifest
        if total:
            out.append(f"Progress: {done}/{total} tasks{scored}")
        if any(s == "partial" for n in tasked for s in self._states(n).values()):
            out.append("(· = not all of the task's tests ran: run the whole exercise folder to count it)")
        if next_up is None and names[-1] in order and order.index(names[-1]) + 1 < len(order):
            next_up = (order[order.index(names[-1]) + 1], 1)
        if next_up and next_up[1] is None:
            out.append(f"Next: exercises/{next_up[0]}/answers.toml (its README.md asks the questions)")
        elif next_up:
            out.append(f"Next: exercises/{next_up[0]}/README.md, task {next_up[1]}")
        return out

    def _answers_complete(self, name: str) -> bool:
        """Every visible test of a predict exercise ran and passed: its answers file is complete and well-formed."""
        exercise = self.exercises[name]
        return bool(exercise.passed) and not (exercise.failed or exercise.pending or exercise.deselected)

    def _states(self, name: str) -> dict[int, str]:
        exercise = self.exercises[name]
        folder = next(iter(exercise.files)).parent if exercise.files else None
        every_file = folder is None or set(folder.glob("test_*.py")) <= exercise.files
        unreached = set(exercise.pending.values())
        return {
            n: ("failed" if not ok else "partial" if n in exercise.partial | unreached or not every_file else "done")
            for n, ok in exercise.tasks.items()
        }

    def outcomes(self) -> dict[str, results.ExerciseResult]:
        """What this run showed of each exercise, as ``dbkata status`` keeps it."""
        found = {}
        for name, exercise in self.exercises.items():
            folder = next(iter(exercise.files)).parent
            complete = not (exercise.deselected or exercise.pending) and set(folder.glob("test_*.py")) <= exercise.files
            failed = tuple(sorted(_short(n) for n in exercise.failed))
            found[name] = results.ExerciseResult(
                self._states(name), len(exercise.passed - exercise.failed), failed, complete
            )
        return found

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self._catalog is None or not self.exercises:
            return  # outside a workbook (an assembled tree): nothing to keep
        with contextlib.suppress(OSError):  # a read-only workbook still gets its summary
            results.record(self._root, self.outcomes())

    def _points(self, name: str) -> dict[int, float]:
        try:
            spec = self._catalog.get(name) if self._catalog else None
        except CatalogError:
            spec = None
        return {t.number: t.points for t in spec.tasks} if spec else {}

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.exercises:
            return
        terminalreporter.write_sep("=", "dbkata progress")
        for line in self.lines():
            terminalreporter.write_line(line)


_MARK = {"done": "✓", "failed": "✗", "partial": "·"}
PREDICTED = "complete: right or wrong is graded when you hand them in (`dbkata reveal` shows the real run)"


def _short(nodeid: str) -> str:
    """``test_x.py::test_y`` from ``exercises/level2/ex01_z/test_x.py::test_y``."""
    path, sep, name = nodeid.partition("::")
    return path.rsplit("/", 1)[-1] + sep + name


def _catalog(root: Path) -> Catalog | None:
    """The workbook's manifest when the run is inside the workbook (not in an assembled tree)."""
    if not (root / MANIFEST).is_file():
        return None
    try:
        return load_catalog(root)
    except CatalogError:
        return None
