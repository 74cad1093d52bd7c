"""Verify the workbook itself: solutions pass, starters fail and score 0, known-bad variants are caught.

For every exercise:

* the starter's tree collects without importing an editable module, so the ids every run must report
  are known from the workbook alone (:mod:`dbkata.grading.expect`), and every run reports exactly those;
* every task has at least one check or visible test that is not a guard;
* the reference solution and every ``good_*`` variant (an alternative correct fix) pass every visible
  test and hidden check;
* on the untouched starter, every guard passes and every other test and check fails, and the starter
  scores 0 on every task (the grader's own scoring of the starter's run, student tests included);
* every ``bad_*`` variant fails at least one hidden check, and each check fails somewhere;
* where a task grades the student's own test file, the reference test passes on the solution and every
  ``good_*`` variant and fails on the starter and every ``bad_*`` variant.

The code-task runs leave the student-written test files out, as grading does. A predict exercise (its
one editable file is ``answers.toml``) is held to more: every target must lose exactly the questions
its answers get wrong, judged against the reference answers. Every code target also runs the way the
grader runs it (checks in a harness that never imports the code, the code in a separate app process),
and must give the same outcome for every test and check as in-process (:mod:`dbkata.modes`).

``modes`` chooses what runs: both (the default, and what ``dbkata selfcheck`` does), or one of them,
whose runs are then the ones judged (the project's default test run judges the graded, split mode).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

from dbkata import answers
from dbkata.assemble import assemble, assemble_student_test
from dbkata.catalog import Catalog, ExerciseSpec
from dbkata.grading.expect import (
    ExpectationError,
    Expected,
    code_task_run,
    collect_expected,
    remove_student_tests,
    student_test_targets,
)
from dbkata.grading.record import StudentTestRun
from dbkata.grading.run import classify
from dbkata.grading.score import score_exercise
from dbkata.modes import disagreements, run_split_target
from dbkata.report import Kind, Status
from dbkata.runner import RunResult, run_tree


@dataclass(frozen=True)
class Verdict:
    """One expectation about one target, and whether it held."""

    exercise: str
    target: str  # "solution", "starter", "bad_x", "good_y", or "student test vs bad_x"
    expectation: str
    ok: bool
    detail: str = ""

    def line(self) -> str:
        """One line for the summary."""
        mark = "ok  " if self.ok else "FAIL"
        detail = f" — {self.detail}" if self.detail else ""
        return f"{mark} {self.exercise} · {self.target}: {self.expectation}{detail}"


class Mode(Enum):
    """Where a code target's code runs: in the test process (a student's run) or an app process (graded)."""

    IN_PROCESS = "in-process"
    SPLIT = "split"


BOTH_MODES = frozenset(Mode)


class _Purpose(Enum):
    CODE = "code"  # a code-task run: the workbook's tests and checks on a target
    REFERENCE_TEST = "reference test"  # the reference student test on a target
    STARTER_TEST = "starter test"  # the starter's student test on a target (as an untouched submission)


@dataclass(frozen=True)
class _Job:
    name: str
    target: Path
    purpose: _Purpose
    test_from: Path | None = None  # overlay the student-test file(s) from here after the target
    selection: tuple[str, ...] = ()  # files to run (empty = the whole folder)
    label: str = ""  # the target's label as grading names it ("solution", "starter", "bad_x"...)


def selfcheck_all(catalog: Catalog, specs: list[ExerciseSpec], say: Callable[[str], None] = print) -> list[Verdict]:
    """Self-check each exercise in turn, saying one line per exercise as it is done."""
    verdicts = []
    for spec in specs:
        found = selfcheck_exercise(catalog, spec)
        bad = sum(not v.ok for v in found)
        say(f"selfcheck {spec.id}: {len(found)} expectation(s), {bad} violated")
        verdicts += found
    return verdicts


def selfcheck_exercise(
    catalog: Catalog, spec: ExerciseSpec, jobs: int = 4, modes: frozenset[Mode] = BOTH_MODES
) -> list[Verdict]:
    """Run every target of one exercise in ``modes`` and judge each against its expectation."""
    try:
        expected = collect_expected(catalog, spec)
    except ExpectationError as exc:
        return [Verdict(spec.id, "starter", "its tree collects", False, str(exc).splitlines()[-1])]
    plan = list(_plan(catalog, spec))
    # A predict exercise with no code to fix has nothing for an app process to run (its answers are
    # data the harness reads): it runs in-process only, and there is no second mode to compare.
    predict = spec.editable == (answers.ANSWERS,)
    split_only = modes == {Mode.SPLIT} and not predict

    def run(job: _Job) -> RunResult:
        if split_only and job.purpose == _Purpose.CODE:
            return _run_split_job(catalog, spec, job, Path(tmp))
        return _run(catalog, spec, job, Path(tmp))

    with tempfile.TemporaryDirectory(prefix="dbkata-selfcheck-") as tmp, ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(run, plan))
        # The starter's own test runs on the other versions only if it passed on the reference (as in grading).
        more = [job for job, r in zip(plan, results, strict=True) if _passed_on_reference(job, r)]
        later = [
            replace(j, name=f"{j.name[: -len(j.label)]}{label}", target=code, label=label)
            for j in more
            for label, code in student_test_targets(catalog, spec)[1:]
        ]
        plan += later
        results += list(pool.map(run, later))
        compare = modes == BOTH_MODES and not predict
        code_jobs = [(job, r) for job, r in zip(plan, results, strict=True) if job.purpose == _Purpose.CODE and compare]
        split = list(pool.map(lambda jr: _run_split_job(catalog, spec, jr[0], Path(tmp)), code_jobs))
    done = list(zip(plan, results, strict=True))
    verdicts = [_judge(spec, job, result) for job, result in done if job.purpose != _Purpose.STARTER_TEST]
    verdicts += [
        Verdict(
            spec.id,
            job.name,
            "same outcome in-process and in a separate app process (as graded)",
            not diff,
            "; ".join(diff[:4]),
        )
        for (job, inprocess), other in zip(code_jobs, split, strict=True)
        for diff in [disagreements(inprocess, other)]
    ]
    verdicts += _collection(spec, expected, done)
    verdicts += _starter(spec, expected, done)
    if answers.ANSWERS in spec.editable:
        verdicts += _answers_lost_exactly(catalog, spec, plan, results)
    return verdicts + _every_check_can_fail(spec, plan, results)


def _passed_on_reference(job: _Job, result: RunResult) -> bool:
    return job.purpose == _Purpose.STARTER_TEST and result.status == Status.OK and not result.failed()


def _collection(spec: ExerciseSpec, expected: Expected, done: list[tuple[_Job, RunResult]]) -> list[Verdict]:
    """Collection imports no editable file; each task has a non-guard item; each run reports what is expected."""
    verdicts = [
        Verdict(
            spec.id,
            "starter",
            "collecting the checks imports no editable file",
            not expected.problems,
            "; ".join(expected.problems),
        )
    ]
    for task in spec.tasks:
        if task.manual is None and task.student_test is None:
            graded = [n for n, (_, t, guard) in expected.tests.items() if t == task.number and not guard]
            verdicts.append(
                Verdict(
                    spec.id,
                    f"task {task.number}",
                    "has a test or check that is not a guard",
                    bool(graded),
                    "" if graded else "authoring error: a task whose every item is a guard earns nothing",
                )
            )
    for job, result in done:
        if job.purpose == _Purpose.CODE and result.status == Status.OK:
            wrong = expected.violations(result.tests)
            verdicts.append(
                Verdict(spec.id, job.name, "reports exactly the expected tests and checks", not wrong, "; ".join(wrong))
            )
    return verdicts


def _starter(spec: ExerciseSpec, expected: Expected, done: list[tuple[_Job, RunResult]]) -> list[Verdict]:
    """On the starter: guards pass, everything else fails, and the grader's scoring gives 0 on every task."""
    starter = next((r for job, r in done if job.purpose == _Purpose.CODE and job.name == "starter"), None)
    if starter is None or starter.status != Status.OK:
        return []  # already reported by _judge
    broken = sorted(_short(t.nodeid) for t in starter.tests if t.guard and t.failed)
    free = sorted(_short(t.nodeid) for t in starter.tests if not t.guard and not t.failed)
    verdicts = [
        Verdict(spec.id, "starter", "passes every guard", not broken, ", ".join(broken)),
        Verdict(
            spec.id,
            "starter",
            "fails every test and check that is not a guard",
            not free,
            "passes (mark it guard, or make it need a change): " + ", ".join(free) if free else "",
        ),
    ]
    run = code_task_run(expected, starter.status, starter.message, spec.editable, starter.tests)
    tests: dict[int, list[StudentTestRun]] = {}
    for job, result in done:
        if job.purpose == _Purpose.STARTER_TEST:
            source = (job.test_from / job.selection[0]).read_text() if job.test_from else ""
            tests.setdefault(_task_of(spec, job.selection[0]), []).append(classify(job.label, result, source))
    scored = score_exercise(spec, replace(run, student_tests={k: tuple(v) for k, v in tests.items()}))
    earned = [f"task {t.number}: {t.score:g} ({t.reason})" for t in scored.tasks if t.score]
    verdicts.append(Verdict(spec.id, "starter", "scores 0 on every task", not earned, "; ".join(earned)))
    return verdicts


def _short(nodeid: str) -> str:
    """``check_x.py::test_y[p]`` from ``exercises/.../check_x.py::test_y[p]``."""
    path, sep, name = nodeid.partition("::")
    return path.rsplit("/", 1)[-1] + sep + name


def _task_of(spec: ExerciseSpec, student_test: str) -> int:
    return next(t.number for t in spec.tasks if t.student_test == student_test)


def _answers_lost_exactly(
    catalog: Catalog, spec: ExerciseSpec, plan: list[_Job], results: list[RunResult]
) -> list[Verdict]:
    """Each target fails exactly the checks ``test_<key>`` of the questions its answers get wrong."""
    questions = answers.load_questions(catalog.exercise_dir(spec))
    reference = answers.parse_answers(questions, catalog.solution_dir(spec) / answers.ANSWERS)
    verdicts = []
    for job, result in zip(plan, results, strict=True):
        if job.purpose != _Purpose.CODE or result.status != Status.OK:
            continue  # a run that did not complete is already reported by _judge
        candidate = answers.parse_answers(questions, job.target / answers.ANSWERS)
        expected = {f"test_{key}" for key in answers.expected_failures(questions, reference, candidate)}
        keys = {f"test_{q.key}" for q in questions}  # a "fix it" task's checks are judged by _judge
        ran = {_function(t.nodeid).split("::")[-1] for t in result.tests if t.kind == Kind.CHECK}
        failed = {_function(t.nodeid).split("::")[-1] for t in result.failed(Kind.CHECK)} & keys
        missing = sorted(f"test_{q.key}" for q in questions if not q.manual and f"test_{q.key}" not in ran)
        detail = "; ".join(
            part
            for part in (
                f"no check ran for {', '.join(missing)}" if missing else "",
                f"should fail but passed: {', '.join(sorted(expected - failed))}" if expected - failed else "",
                f"should pass but failed: {', '.join(sorted(failed - expected))}" if failed - expected else "",
            )
            if part
        )
        verdicts.append(
            Verdict(spec.id, job.name, "loses exactly the questions its answers get wrong", not detail, detail)
        )
    return verdicts


def _every_check_can_fail(spec: ExerciseSpec, plan: list[_Job], results: list[RunResult]) -> list[Verdict]:
    """Each hidden check (a check function, over all its parameters) fails on the starter or a bad variant."""
    by_name = {job.name: r for job, r in zip(plan, results, strict=True) if job.purpose == _Purpose.CODE}
    solution = by_name.get("solution")
    if solution is None or solution.status != "ok":
        return []
    checks = {_function(t.nodeid) for t in solution.tests if t.kind == Kind.CHECK and not t.guard}
    wrong = [r for name, r in by_name.items() if name == "starter" or name.startswith("bad_")]
    caught = {_function(t.nodeid) for r in wrong for t in r.failed(Kind.CHECK)}
    return [
        Verdict(spec.id, f"check {name}", "fails on the starter or at least one known-bad variant", name in caught)
        for name in sorted(checks)
    ]


def _function(nodeid: str) -> str:
    """``check_x.py::test_y`` from ``.../check_x.py::test_y[param]``."""
    path, _, name = nodeid.partition("::")
    return f"{path.rsplit('/', 1)[-1]}::{name.split('[', 1)[0]}"


def _plan(catalog: Catalog, spec: ExerciseSpec) -> Iterator[_Job]:
    solution = catalog.solution_dir(spec)
    starter = catalog.exercise_dir(spec)
    student_tests = tuple(t.student_test for t in spec.tasks if t.student_test)
    yield _Job("solution", solution, _Purpose.CODE)
    yield _Job("starter", starter, _Purpose.CODE)
    for variant in catalog.variants(spec):
        yield _Job(variant.name, variant, _Purpose.CODE)
    for name in student_tests:
        for label, code in student_test_targets(catalog, spec):
            if label != "solution":
                yield _Job(f"student test vs {label}", code, _Purpose.REFERENCE_TEST, solution, (name,), label)
            if label == "solution":
                yield _Job(f"starter's {name} vs {label}", code, _Purpose.STARTER_TEST, starter, (name,), label)


def _run(catalog: Catalog, spec: ExerciseSpec, job: _Job, tmp: Path) -> RunResult:
    dest = Path(tempfile.mkdtemp(dir=tmp))
    shutil.rmtree(dest)
    if job.test_from is not None:
        folder = assemble_student_test(catalog, spec, job.target, job.test_from, job.selection, dest)
    else:
        folder = assemble(catalog, spec, job.target, dest)
        remove_student_tests(spec, folder)  # as in grading: the code-task run has only the workbook's items
    return run_tree(folder, *(str(folder / name) for name in job.selection))


def _run_split_job(catalog: Catalog, spec: ExerciseSpec, job: _Job, tmp: Path) -> RunResult:
    return run_split_target(catalog, spec, job.target, Path(tempfile.mkdtemp(dir=tmp)))


def _judge(spec: ExerciseSpec, job: _Job, result: RunResult) -> Verdict:
    def verdict(expectation: str, ok: bool, detail: str = "") -> Verdict:
        if result.status != Status.OK:
            return Verdict(spec.id, job.name, expectation, False, f"{result.status}: {result.message}")
        return Verdict(spec.id, job.name, expectation, ok, detail)

    failing_checks = sorted({t.name for t in result.failed(Kind.CHECK)})
    failing_tests = sorted({t.name for t in result.failed(Kind.TEST)})
    if job.purpose == _Purpose.REFERENCE_TEST:
        should_fail = not (job.label == "solution" or job.label.startswith("good_"))
        failed = bool(result.failed())
        return verdict(
            "reference student test fails" if should_fail else "reference student test passes",
            failed == should_fail,
            ", ".join(failing_tests),
        )
    if job.name == "solution" or job.name.startswith("good_"):
        return verdict(
            "passes visible tests and hidden checks", result.passed_all(), ", ".join(failing_tests + failing_checks)
        )
    if job.name == "starter":
        return verdict("runs to completion", True)  # what it must fail and pass: _starter
    return verdict("caught by at least one hidden check", bool(failing_checks), ", ".join(failing_checks[:4]))
