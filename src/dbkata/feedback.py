"""Failure messages written for students: header, what was called, observed vs expected, a hint pointer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from dbkata.app.codec import AppError

_EXERCISE_RE = re.compile(r"^level\d+$")


@dataclass(frozen=True)
class CheckContext:
    """Which exercise and task the running test belongs to."""

    exercise: str | None = None  # e.g. "level2/ex01_leaky_dependency"
    task: int | None = None

    def header(self, title: str) -> str:
        """``[level2/ex01_leaky_dependency · task 2] title``, or the bare title outside an exercise."""
        where = " · ".join(p for p in (self.exercise, f"task {self.task}" if self.task else None) if p)
        return f"[{where}] {title}" if where else title

    def pointer(self, advice: str) -> str:
        """The closing line: advice, then where in HINTS.md to read on."""
        if self.exercise and self.task:
            return f'{advice} → HINTS.md, "{self.task}."'
        return advice


_current = CheckContext()
_evidence: dict[str, object] = {}
_app_errors: list[AppError] = []


def current() -> CheckContext:
    """The context of the test being run (set by the plugin before each test)."""
    return _current


def set_current(context: CheckContext) -> None:
    """Record the context of the test about to run (and start its evidence afresh)."""
    global _current
    _current = context
    _evidence.clear()
    _app_errors.clear()


def note_app_error(error: AppError) -> None:
    """Remember an exception the exercise's code raised while the running test talked to it."""
    _app_errors.append(error)


def app_error_lines() -> list[str]:
    """A programming error in the student's code (NameError, TypeError, ...) leads any message."""
    bugs = [e for e in _app_errors if e.module == "builtins"]
    if not bugs:
        return []
    first = bugs[0]
    lines = [f"The code raised {first.type_name}: {first.message.splitlines()[0] if first.message else ''}"]
    lines += [f"    {frame}" for frame in first.frames[-4:]]
    if len(bugs) > 1:
        lines.append(f"(and {len(bugs) - 1} more error(s) of this kind in the same check)")
    return lines


def app_exception_lines(said: Sequence[str] = ()) -> list[str]:
    """Any other exception that escaped the app, after the check's own explanation (unless it named it).

    Not in the lead: some checks make the app fail on purpose (a request the database refuses), and
    the property they grade is elsewhere. Of several, the first in a fixed order (by type, message,
    frames), so concurrent requests that fail in another order leave the same message.
    """
    others = [e for e in _app_errors if e.module != "builtins"]
    if not others:
        return []
    pick = min(others, key=lambda e: (e.type_name, e.message, e.frames))
    headline = pick.headline()
    if headline.split(" (")[0][:80] in "\n".join(said):
        return []
    return [
        f"An exception escaped the app: {headline if len(headline) <= 240 else headline[:239] + '…'}",
        *(f"    {frame}" for frame in pick.frames[-3:]),
    ]


def record_evidence(key: str, value: object) -> None:
    """Keep what a probe observed (statements, pool state, rows) for the grader's results file."""
    _evidence[key] = value


def evidence() -> dict[str, object]:
    """What the probes recorded during the running test."""
    return dict(_evidence)


def context_of(item: pytest.Item) -> CheckContext:
    """The exercise (from the test's path) and task (from its ``task`` marker) of a collected test."""
    marker = item.get_closest_marker("task")
    task = int(marker.args[0]) if marker and marker.args else None
    return CheckContext(exercise_id(item.path), task)


def exercise_id(path: Path) -> str | None:
    """``level2/ex01_x`` for any file inside ``.../level2/ex01_x/``, else None."""
    parts = path.parts
    for i in range(len(parts) - 2, -1, -1):
        if _EXERCISE_RE.match(parts[i]) and i + 1 < len(parts) - 1:
            return f"{parts[i]}/{parts[i + 1]}"
    return None


def message(title: str, *lines: str, advice: str | None = None) -> str:
    """The full student-facing message for a failed property."""
    ctx = current()
    shown = [*app_error_lines(), *lines, *app_exception_lines(lines)]
    body = [ctx.header(title), *(f"  {line}" for line in shown if line)]
    if advice:
        body.append("  " + ctx.pointer(advice))
    return "\n".join(body)


def fail(title: str, *lines: str, advice: str | None = None) -> NoReturn:
    """Fail the running test with a student-facing message and no harness traceback."""
    __tracebackhide__ = True
    pytest.fail(message(title, *lines, advice=advice), pytrace=False)
