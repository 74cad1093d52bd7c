"""Scoring: from what the runs observed to points, with the reason for every point given or withheld.

Pure functions over the typed grading record (:mod:`dbkata.grading.record`); no I/O.

Rules (README.md, "How points are computed", states them the same way):

* a guard (a check or visible test marked ``guard``: the untouched starter passes it) earns nothing;
  if any guard of a task did not pass, the task earns 0;
* otherwise a task graded by checks earns its points in proportion to its other checks and visible
  tests that passed (a skipped one counts as not passed);
* if the exercise's run did not complete (syntax error, crash, an invalid report) its automatic tasks
  earn 0; a run stopped at its time limit keeps what it finished, and each check it did not reach
  counts as not passed (a timeout costs only the checks that did not finish);
* a task graded by the student's own test (``student_test``) earns 0 unless that test passes on every
  correct version (the reference solution and every ``good_*`` variant); otherwise its points in
  proportion to the flawed versions it fails on (the starter and every ``bad_*`` variant);
* a manual task has no automatic score (an empty cell for the TA);
* an infrastructure error gives no score at all: the submission is graded again on the next run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dbkata.catalog import ExerciseSpec, Task
from dbkata.grading.record import ExerciseRun, GradingRecord, Learning, StudentTestRun, TestRunOutcome
from dbkata.report import Outcome, Status, TestResult

RUN_PROBLEMS = {
    Status.COLLECTION_ERROR: "the tests could not even be collected (the code does not import)",
    Status.CRASHED: "the test run crashed",
    Status.TIMEOUT: "the test run did not finish in time",
    Status.INVALID_REPORT: "the test run's report is not valid (it must list every test and check once)",
    Status.NOT_RUN: "not run",
    Status.NOT_GRADED: "not graded yet (grade.py was run for other exercises only)",
    Status.NOT_SUBMITTED: "no file of this exercise was submitted",
}
NOT_GRADED = ExerciseRun(Status.NOT_GRADED)


@dataclass(frozen=True)
class Item:
    """One visible test or hidden check (or one run of the student's test), as the student's code fared on it."""

    name: str
    kind: str  # "test" (visible), "check" (hidden) or "student_test"
    passed: bool
    outcome: str
    message: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    guard: bool = False


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
    run_status: Status
    message: str | None
    tasks: tuple[TaskScore, ...]
    learning: Learning | None = None  # level 1: the reveal and the free-text answers (never points)

    @property
    def score(self) -> float | None:
        """Automatic points earned; None after an infrastructure error."""
        if self.run_status == Status.INFRASTRUCTURE_ERROR:
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
        if Status.INFRASTRUCTURE_ERROR in runs:
            return "infrastructure_error"
        if Status.NOT_GRADED in runs:
            return "incomplete"
        problems = {Status.CRASHED, Status.TIMEOUT, Status.NOT_RUN, Status.INVALID_REPORT}
        return "graded with errors" if runs & problems else "graded"


def score_student(student: str, specs: list[ExerciseSpec], record: GradingRecord | None) -> StudentScore:
    """Score every exercise of one student's record."""
    runs = record.exercises if record is not None else {}
    exercises = tuple(score_exercise(spec, runs.get(spec.id, NOT_GRADED)) for spec in specs)
    return StudentScore(student, exercises, record.notes if record is not None else ())


def score_exercise(spec: ExerciseSpec, run: ExerciseRun) -> ExerciseScore:
    """Score one exercise from its run."""
    tasks = tuple(_score_task(task, run) for task in spec.tasks)
    return ExerciseScore(spec.id, spec.title, run.status, run.message, tasks, run.learning)


def _score_task(task: Task, run: ExerciseRun) -> TaskScore:
    if task.manual is not None:
        return TaskScore(task.number, task.points, None, "graded by a person", manual=task.manual)
    if run.status == Status.INFRASTRUCTURE_ERROR:
        return TaskScore(task.number, task.points, None, "not graded: infrastructure error (retried next run)")
    if not run.scorable:
        why = RUN_PROBLEMS.get(run.status, run.status.value)
        return TaskScore(task.number, task.points, 0.0, f"{why}: {run.message}" if run.message else why)
    if task.student_test:
        return _score_student_test(task, run.student_tests.get(task.number, ()))
    return _score_checks(task, tuple(t for t in run.tests if t.task == task.number))


def _score_checks(task: Task, tests: tuple[TestResult, ...]) -> TaskScore:
    """Guards must all pass (else 0); then points in proportion to the other items that passed."""
    items = tuple(_item(t) for t in tests)
    if not items:
        return TaskScore(task.number, task.points, 0.0, "no test or check of this task ran")
    broken = [i for i in items if i.guard and not i.passed]
    if broken:
        names = ", ".join(f"`{i.name}`" for i in broken)
        what = "guard" if len(broken) == 1 else "guards"
        why = f"{what} {names} did not pass (it passes on the starter code; breaking it costs the whole task)"
        if any(i.outcome == Outcome.MISSING for i in broken):
            why += "; a guard the run did not reach before its time limit counts as not passed"
        return TaskScore(task.number, task.points, 0.0, why, items)
    graded = [i for i in items if not i.guard]
    if not graded:
        return TaskScore(task.number, task.points, 0.0, "the workbook has no graded check for this task", items)
    passed = sum(i.passed for i in graded)
    score = round(task.points * passed / len(graded), 2)
    why = f"{passed} of {len(graded)} checks passed"
    unfinished = sum(i.outcome == Outcome.MISSING for i in items)
    if unfinished:
        why += f" ({unfinished} did not finish before the run's time limit)"
    return TaskScore(task.number, task.points, score, why, items)


def _item(test: TestResult) -> Item:
    return Item(
        test.name,
        test.kind.value,
        test.outcome == Outcome.PASSED,
        test.outcome.value,
        test.message,
        dict(test.evidence.entries),
        test.guard,
    )


def _score_student_test(task: Task, runs: tuple[StudentTestRun, ...]) -> TaskScore:
    """Passes on every correct version (else 0); then points in proportion to the flawed versions it fails."""
    items = tuple(_student_test_item(r) for r in runs)
    name = task.student_test
    if not runs:
        return TaskScore(task.number, task.points, 0.0, f"your {name} did not run", items)
    if runs[0].outcome == TestRunOutcome.NOT_SUBMITTED:
        return TaskScore(task.number, task.points, 0.0, f"{name} was not submitted", items)
    correct = [r for r in runs if r.correct_version]
    wrong = next((r for r in correct if r.outcome != TestRunOutcome.PASSED), None)
    if wrong is not None or not correct:
        where = _where(wrong.target) if wrong else "the reference solution"
        got = _describe(wrong) if wrong else "did not run"
        why = f"your {name} must pass on every correct version of the code; on {where} it {got}"
        return TaskScore(task.number, task.points, 0.0, why, items)
    passes = "passes on the reference solution" + (
        f" and {len(correct) - 1} other correct version(s)" if len(correct) > 1 else ""
    )
    flawed = [r for r in runs if not r.correct_version]
    if not flawed:
        return TaskScore(task.number, task.points, task.points, passes, items)
    caught = sum(r.outcome == TestRunOutcome.FAILED for r in flawed)
    score = round(task.points * caught / len(flawed), 2)
    why = f"{passes} and catches {caught} of {len(flawed)} flawed versions"
    return TaskScore(task.number, task.points, score, why, items)


def _where(target: str) -> str:
    if target == "solution":
        return "the reference solution"
    if target == "starter":
        return "the starter code"
    return f"the correct version {target}" if target.startswith("good_") else f"the flawed version {target}"


def _student_test_item(run: StudentTestRun) -> Item:
    """One line per run: where, and how it ended (never a failure message: it could carry the code run)."""
    caught = run.outcome == TestRunOutcome.FAILED
    passed = run.outcome == TestRunOutcome.PASSED if run.correct_version else caught
    return Item(f"on {_where(run.target)}", "student_test", passed, _describe(run))


def _describe(run: StudentTestRun) -> str:
    if run.outcome == TestRunOutcome.FAILED:
        shown = ", ".join(run.failed[:3]) + (f" and {len(run.failed) - 3} more" if len(run.failed) > 3 else "")
        return f"failed ({shown})" if shown else "failed"
    if run.outcome == TestRunOutcome.INCOMPLETE:
        return f"did not complete ({run.status.value.replace('_', ' ')})"
    return {TestRunOutcome.NO_TESTS: "collected no test", TestRunOutcome.NOT_SUBMITTED: "was not submitted"}.get(
        run.outcome, run.outcome.value
    )
