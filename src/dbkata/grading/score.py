"""Scoring: from what the runs observed to points, with the reason for every point given or withheld.

Pure functions over plain data (the per-student record the run stage writes); no I/O.

Rules (the instructor guide states them the same way):

* a task graded by checks earns its points in proportion to the checks and visible tests marked with
  it that passed (a skipped or missing one counts as not passed);
* if the exercise's run did not complete (syntax error, crash, timeout) its automatic tasks earn 0;
* a task graded by the student's own test (``student_test``) earns 0 unless that test passes on the
  reference solution; otherwise its points in proportion to the flawed versions it fails on (the
  starter and every known-bad variant);
* a manual task has no automatic score (an empty cell for the TA);
* an infrastructure error gives no score at all: the submission is graded again on the next run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dbkata.catalog import ExerciseSpec, Task

RUN_PROBLEMS = {
    "collection_error": "the tests could not even be collected (the code does not import)",
    "crashed": "the test run crashed",
    "timeout": "the test run did not finish in time",
    "not_run": "not run",
    "not_graded": "not graded yet (grade.py was run for other exercises only)",
    "not_submitted": "no file of this exercise was submitted",
}


@dataclass(frozen=True)
class Item:
    """One visible test or hidden check, as the student's code fared on it."""

    name: str
    kind: str  # "test" (visible) or "check" (hidden)
    passed: bool
    outcome: str
    message: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskScore:
    """Points for one task, and why."""

    number: int
    points: float
    score: float | None  # None: graded by a person
    reason: str
    items: tuple[Item, ...] = ()
    manual: str | None = None

    @property
    def status(self) -> str:
        """``passed``, ``partial``, ``failed`` or ``manual``."""
        if self.score is None:
            return "manual"
        return "passed" if self.score >= self.points else ("partial" if self.score > 0 else "failed")


@dataclass(frozen=True)
class ExerciseScore:
    """Points for one exercise (automatic tasks only), task by task."""

    id: str
    title: str
    run_status: str
    message: str | None
    tasks: tuple[TaskScore, ...]

    @property
    def score(self) -> float | None:
        """Automatic points earned; None after an infrastructure error."""
        if self.run_status == "infrastructure_error":
            return None
        return round(sum(t.score for t in self.tasks if t.score is not None), 2)

    @property
    def points(self) -> float:
        """Automatic points possible."""
        return sum(t.points for t in self.tasks if t.manual is None)


@dataclass(frozen=True)
class StudentScore:
    """One student's grade."""

    student: str
    exercises: tuple[ExerciseScore, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def total(self) -> float | None:
        """Sum of automatic points, None when any exercise could not be graded."""
        scores = [e.score for e in self.exercises]
        return None if any(s is None for s in scores) else round(sum(s or 0 for s in scores), 2)

    @property
    def points(self) -> float:
        return sum(e.points for e in self.exercises)

    @property
    def status(self) -> str:
        """``graded``, ``graded with errors`` (a run crashed or timed out), ``incomplete``, ``infrastructure_error``."""
        runs = {e.run_status for e in self.exercises}
        if "infrastructure_error" in runs:
            return "infrastructure_error"
        if "not_graded" in runs:
            return "incomplete"
        return "graded with errors" if runs & {"crashed", "timeout", "not_run"} else "graded"


def score_student(student: str, specs: list[ExerciseSpec], record: dict[str, Any]) -> StudentScore:
    """Score every exercise of one student's record."""
    runs = record.get("exercises", {})
    exercises = tuple(score_exercise(spec, runs.get(spec.id, {"status": "not_graded"})) for spec in specs)
    return StudentScore(student, exercises, tuple(record.get("notes", ())))


def score_exercise(spec: ExerciseSpec, run: dict[str, Any]) -> ExerciseScore:
    """Score one exercise from its run."""
    status = str(run.get("status", "not_run"))
    message = run.get("message")
    tasks = tuple(_score_task(task, status, message, run) for task in spec.tasks)
    return ExerciseScore(spec.id, spec.title, status, message, tasks)


def _score_task(task: Task, status: str, message: str | None, run: dict[str, Any]) -> TaskScore:
    if task.manual is not None:
        return TaskScore(task.number, task.points, None, "graded by a person", manual=task.manual)
    if status == "infrastructure_error":
        return TaskScore(task.number, task.points, None, "not graded: infrastructure error (retried next run)")
    if status != "ok":
        why = RUN_PROBLEMS.get(status, status)
        return TaskScore(task.number, task.points, 0.0, f"{why}: {message}" if message else why)
    if task.student_test:
        return _score_student_test(task, run.get("student_tests", {}).get(str(task.number), []))
    items = tuple(_item(t) for t in run.get("tests", []) if t.get("task") == task.number)
    if not items:
        return TaskScore(task.number, task.points, 0.0, "no test or check of this task ran")
    passed = sum(i.passed for i in items)
    score = round(task.points * passed / len(items), 2)
    return TaskScore(task.number, task.points, score, f"{passed} of {len(items)} checks passed", items)


def _item(test: dict[str, Any]) -> Item:
    name = str(test.get("nodeid", "?")).split("::", 1)[-1]
    outcome = str(test.get("outcome", "missing"))
    return Item(
        name,
        str(test.get("kind", "check")),
        outcome == "passed",
        outcome,
        test.get("message"),
        dict(test.get("evidence") or {}),
    )


def _score_student_test(task: Task, runs: list[dict[str, Any]]) -> TaskScore:
    items = tuple(_student_test_item(r) for r in runs)
    reference = [r for r in runs if r.get("target") == "solution"]
    if reference and reference[0].get("outcome") == "not submitted":
        return TaskScore(task.number, task.points, 0.0, f"{task.student_test} was not submitted", items)
    if not reference or reference[0].get("outcome") != "passed":
        got = reference[0] if reference else {"outcome": "not run", "message": None}
        why = f"your {task.student_test} must pass on the reference solution; there it {_describe(got)}"
        return TaskScore(task.number, task.points, 0.0, why, items)
    flawed = [r for r in runs if r.get("target") != "solution"]
    caught = sum(r.get("outcome") == "failed" for r in flawed)
    if not flawed:
        return TaskScore(task.number, task.points, task.points, "passes on the reference solution", items)
    score = round(task.points * caught / len(flawed), 2)
    return TaskScore(
        task.number,
        task.points,
        score,
        f"passes on the reference solution and catches {caught} of {len(flawed)} flawed versions",
        items,
    )


def _student_test_item(run: dict[str, Any]) -> Item:
    target = str(run.get("target"))
    outcome = str(run.get("outcome"))
    if target == "solution":
        return Item("on the reference solution", "student_test", outcome == "passed", outcome, run.get("message"))
    label = "on the starter code" if target == "starter" else f"on the flawed version {target}"
    return Item(label, "student_test", outcome == "failed", outcome, run.get("message"))


def _describe(run: dict[str, Any]) -> str:
    outcome = run.get("outcome")
    text = {"failed": "failed", "no tests": "collected no test", "not run": "did not run"}.get(
        str(outcome), f"ended: {outcome}"
    )
    message = run.get("message")
    return f"{text}: {message.splitlines()[0]}" if message else text
