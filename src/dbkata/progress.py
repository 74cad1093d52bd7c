"""The end-of-run summary a student sees: tasks done per exercise, overall progress, what to read next.

Derived from the run itself (no state file): a task is done when every test and check of it that ran
passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from dbkata import feedback


@dataclass
class _Exercise:
    tasks: dict[int, bool] = field(default_factory=dict)  # task -> all passed so far


class Progress:
    """Collects outcomes per (exercise, task) and writes the summary."""

    def __init__(self) -> None:
        self.exercises: dict[str, _Exercise] = {}
        self._where: dict[str, tuple[str, int]] = {}

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        context = feedback.context_of(item)
        if context.exercise and context.task:
            self._where[item.nodeid] = (context.exercise, context.task)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        where = self._where.get(report.nodeid)
        if where is None:
            return
        exercise = self.exercises.setdefault(where[0], _Exercise())
        ok = exercise.tasks.get(where[1], True) and not report.failed
        exercise.tasks[where[1]] = ok

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.exercises:
            return
        terminalreporter.write_sep("=", "dbkata progress")
        width = max(len(name) for name in self.exercises)
        done = total = 0
        next_up: tuple[str, int] | None = None
        for name in sorted(self.exercises):
            tasks = self.exercises[name].tasks
            marks = "  ".join(f"task {n} {'✓' if ok else '✗'}" for n, ok in sorted(tasks.items()))
            passed = sum(tasks.values())
            done, total = done + passed, total + len(tasks)
            terminalreporter.write_line(f"{name:<{width}}  {marks}  ({passed}/{len(tasks)})")
            failing = [n for n, ok in sorted(tasks.items()) if not ok]
            if failing and next_up is None:
                next_up = (name, failing[0])
        terminalreporter.write_line(f"Progress: {done}/{total} tasks")
        if next_up:
            terminalreporter.write_line(f"Next: exercises/{next_up[0]}/README.md, task {next_up[1]}")
