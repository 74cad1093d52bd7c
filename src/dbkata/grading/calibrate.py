"""Scale the grader's time limits to this machine, from a graded run of the reference solution.

Wall-clock limits are safety nets, never what decides a grade: the checks stop on their own budgets
(statements, rows, a race's quiet period) long before. But a safety net fixed in seconds is too
tight on a slow or busy machine, where a correct submission's run takes several times as long as on
an idle one. So before grading (``grade.py`` without ``--timeout``), the reference solution of every
exercise to grade is graded on this machine, in the sandbox, exactly as a student's would be, and:

* each exercise's limit per call to the code and per student-test run is ``FACTOR`` times the
  reference's slowest run of that exercise (a call never takes longer than a whole run), at least the
  floor (``--timeout``'s default);
* each submission's budget is ``FACTOR`` times what the reference took for the exercises that
  submission has to grade, at least the floor (``--submission-timeout``).

The calibration is also a health check of the grading machine: the reference must earn every
automatic point. If it does not (a database, sandbox or overload problem), no grade from this machine
could be trusted, and grading stops before any student is judged.

What was measured is kept in ``calibration.json`` in the output folder, so a resumed run reuses it
(``--force`` measures again). It stays out of ``batch.json`` and the records: the limits differ from
machine to machine, shards graded on different machines merge as one class, and the limits decide no
grade.
"""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from dbkata.catalog import Catalog, ExerciseSpec
from dbkata.grading import state
from dbkata.grading.collect import Submission
from dbkata.grading.record import GradingRecord
from dbkata.grading.score import score_exercise

FACTOR = 5  # how much slower than the reference a run may be before the safety net stops it
CALIBRATION = "calibration.json"
CALIBRATION_VERSION = 1
_GRADER = Callable[[list[ExerciseSpec], Submission, dict[str, list[float]]], GradingRecord]


class CalibrationError(ValueError):
    """The reference solution did not earn full marks on this machine: grading it would not be fair."""


@dataclass(frozen=True)
class Calibration:
    """The reference's run times on this machine, per exercise (seconds of each run it made)."""

    workbook: str
    runs: dict[str, tuple[float, ...]] = field(default_factory=dict)

    def timeout(self, exercise: str, floor: float) -> float:
        """Seconds per call to the code and per student-test run of this exercise."""
        runs = self.runs.get(exercise, ())
        return max(floor, float(math.ceil(FACTOR * max(runs)))) if runs else floor

    def submission_timeout(self, exercises: Iterable[str], floor: float) -> float:
        """Seconds for one submission that grades these exercises."""
        total = sum(sum(self.runs.get(e, ())) for e in exercises)
        return max(floor, float(math.ceil(FACTOR * total)))

    def missing(self, exercises: Iterable[str]) -> list[str]:
        """The exercises this calibration has not measured."""
        return [e for e in exercises if e not in self.runs]

    def merged(self, other: Calibration) -> Calibration:
        return replace(self, runs={**self.runs, **other.runs})

    def summary(self, exercises: Iterable[str], floor: float, submission_floor: float) -> str:
        """One line: what the reference took and the limits that follow."""
        chosen = [e for e in exercises if e in self.runs]
        took = sum(sum(self.runs[e]) for e in chosen)
        limits = sorted({self.timeout(e, floor) for e in chosen})
        per_call = f"{limits[0]:g} s" if len(limits) == 1 else f"{limits[0]:g}–{limits[-1]:g} s by exercise"
        budget = self.submission_timeout(chosen, submission_floor)
        return (
            f"calibrated: the reference took {took:.0f} s for {len(chosen)} exercise(s) on this machine; "
            f"limits: {per_call} per call and per student-test run, {budget:g} s per submission"
        )


def load(out: Path, workbook: str) -> Calibration:
    """The calibration kept in an output folder, if it was measured for this workbook (else an empty one)."""
    try:
        data = json.loads((out / CALIBRATION).read_text())
        if data.get("version") != CALIBRATION_VERSION or data.get("workbook") != workbook:
            return Calibration(workbook)
        runs = {str(k): tuple(float(s) for s in v) for k, v in data["runs"].items()}
        return Calibration(workbook, runs)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return Calibration(workbook)


def save(out: Path, calibration: Calibration) -> None:
    """Keep the calibration beside the records (atomically), with where and under what load it was made."""
    state.write_json(
        out / CALIBRATION,
        {
            "version": CALIBRATION_VERSION,
            "workbook": calibration.workbook,
            "factor": FACTOR,
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "runs": {k: list(v) for k, v in sorted(calibration.runs.items())},
        },
    )


def reference_submission(catalog: Catalog, specs: list[ExerciseSpec]) -> Submission:
    """The reference solution of these exercises, as a student would submit it."""
    files = {}
    for spec in specs:
        solved = catalog.solution_dir(spec)
        for name in spec.editable:
            if (solved / name).is_file():
                files[f"{spec.id}/{name}"] = (solved / name).read_bytes()
    return Submission("reference", catalog.root / "solutions", files)


def measure(
    catalog: Catalog,
    specs: list[ExerciseSpec],
    found: Calibration,
    grade: _GRADER,
    measured: Callable[[str, Calibration], None] = lambda _exercise, _calibration: None,
) -> Calibration:
    """``found`` plus the reference's run times of ``specs``; CalibrationError if it lost points on any.

    ``grade(specs, submission, timings)`` grades like a student's submission and appends each run's
    wall seconds to ``timings[exercise id]``. Exercises are measured one at a time; ``measured`` is told
    of each (so it can be kept at once: a killed calibration resumes where it stopped). An exercise on
    which the reference lost points is not kept, and the others are still measured, so that the error
    names every one.
    """
    lost = []
    for spec in specs:
        timings: dict[str, list[float]] = {}
        record = grade([spec], reference_submission(catalog, [spec]), timings)
        run = record.exercises.get(spec.id)
        scored = score_exercise(spec, run) if run is not None else None
        if scored is None or run is None or scored.score is None or scored.score < scored.points:
            earned = "not graded" if scored is None or scored.score is None else f"{scored.score:g}/{scored.points:g}"
            why = "" if run is None or not run.message else f": {run.message.splitlines()[0]}"
            lost.append(f"{spec.id} {earned} ({run.status.value if run else 'no run'}{why})")
            continue
        found = found.merged(Calibration(found.workbook, {spec.id: tuple(round(t, 2) for t in timings[spec.id])}))
        measured(spec.id, found)
    if lost:
        raise CalibrationError(
            "the reference solution does not earn full marks on this machine, so no grade made here could be "
            "trusted: " + "; ".join(lost) + ". Check the database server and the sandbox with `dbkata selfcheck`, "
            "and the machine's load; a fixed --timeout skips this calibration."
        )
    return found
