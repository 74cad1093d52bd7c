"""The student's local results: what the last run of each exercise showed, kept in ``.dbkata/results.json``.

The pytest plugin records, at the end of every run inside a workbook, each exercise that ran: the state
of each task (by :mod:`dbkata.progress`'s rule: done only when all of its tests ran and passed), how many
of its visible tests passed, and which failed. An exercise's record is replaced by the next run that
includes it; exercises not in a run keep theirs. ``dbkata status`` and ``dbkata solution`` read it.
Nothing here decides a grade: the grader runs its own checks on a pristine tree.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(".dbkata") / "results.json"
FORMAT_VERSION = 1
DONE, FAILED, PARTIAL = "done", "failed", "partial"


@dataclass(frozen=True)
class ExerciseResult:
    """One exercise as its last run left it."""

    tasks: dict[int, str] = field(default_factory=dict)  # task -> "done", "failed" or "partial"
    passed: int = 0  # visible tests that ran and passed
    failed: tuple[str, ...] = ()  # visible tests that failed (``test_file.py::test_name``)
    complete: bool = True  # every visible test of the exercise ran (none deselected, no file left out)

    @property
    def passes(self) -> bool:
        """All of its visible tests ran and passed (and at least one ran)."""
        return self.complete and self.passed > 0 and not self.failed and all(s == DONE for s in self.tasks.values())

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "tasks": {str(n): s for n, s in sorted(self.tasks.items())},
            "passed": self.passed,
            "failed": list(self.failed),
            "complete": self.complete,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExerciseResult:
        """The inverse of :meth:`to_json`."""
        tasks = {int(n): str(s) for n, s in data.get("tasks", {}).items()}
        return cls(tasks, int(data["passed"]), tuple(map(str, data["failed"])), bool(data["complete"]))


def load(root: Path) -> dict[str, ExerciseResult]:
    """Every exercise's last result; empty when nothing was recorded (or the file is unreadable)."""
    try:
        data = json.loads((root / RESULTS).read_text())
        if data.get("format_version") != FORMAT_VERSION:
            return {}
        return {str(k): ExerciseResult.from_json(v) for k, v in data["exercises"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def record(root: Path, exercises: dict[str, ExerciseResult]) -> None:
    """Replace the records of ``exercises``, keep the others (written atomically)."""
    known = load(root)
    known.update(exercises)
    _write(root, known)


def forget(root: Path, exercise: str) -> bool:
    """Drop one exercise's record (its code changed under it); whether there was one."""
    known = load(root)
    if known.pop(exercise, None) is None:
        return False
    _write(root, known)
    return True


def _write(root: Path, exercises: dict[str, ExerciseResult]) -> None:
    path = root / RESULTS
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format_version": FORMAT_VERSION, "exercises": {k: v.to_json() for k, v in sorted(exercises.items())}}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".results-")
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)
