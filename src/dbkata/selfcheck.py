"""Verify the workbook itself: solutions pass, starters fail, known-bad variants are caught.

For every exercise: the reference solution passes its visible tests and hidden checks; the starter
fails both; every ``bad_*`` variant fails at least one hidden check; every ``good_*`` variant (an
alternative correct fix) passes everything. Where a task grades the student's own test file, the
reference test must fail on the starter and on every bad variant, and pass on the solution.

A predict exercise (its one editable file is ``answers.toml``) is held to more: every target must
lose exactly the questions its answers get wrong, judged against the reference answers (so the starter
fails every check, and a ``good_*`` spelling loses none).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from dbkata import answers
from dbkata.assemble import assemble, overlay_editable
from dbkata.catalog import Catalog, ExerciseSpec
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


@dataclass(frozen=True)
class _Job:
    name: str
    target: Path
    test_from: Path | None  # overlay the student-test file(s) from here after the target
    selection: tuple[str, ...]  # files to run (empty = the whole folder)


def selfcheck_exercise(catalog: Catalog, spec: ExerciseSpec, jobs: int = 2) -> list[Verdict]:
    """Run every target of one exercise and judge each against its expectation."""
    plan = list(_plan(catalog, spec))
    with tempfile.TemporaryDirectory(prefix="dbkata-selfcheck-") as tmp, ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(lambda job: _run(catalog, spec, job, Path(tmp)), plan))
    verdicts = [_judge(spec, job, result) for job, result in zip(plan, results, strict=True)]
    if spec.editable == (answers.ANSWERS,):
        verdicts += _answers_lost_exactly(catalog, spec, plan, results)
    return verdicts + _every_check_can_fail(spec, plan, results)


def _answers_lost_exactly(
    catalog: Catalog, spec: ExerciseSpec, plan: list[_Job], results: list[RunResult]
) -> list[Verdict]:
    """Each target fails exactly the checks ``test_<key>`` of the questions its answers get wrong."""
    questions = answers.load_questions(catalog.exercise_dir(spec))
    reference = answers.parse_answers(questions, catalog.solution_dir(spec) / answers.ANSWERS)
    verdicts = []
    for job, result in zip(plan, results, strict=True):
        if job.selection or result.status != "ok":
            continue  # a run that did not complete is already reported by _judge
        candidate = answers.parse_answers(questions, job.target / answers.ANSWERS)
        expected = {f"test_{key}" for key in answers.expected_failures(questions, reference, candidate)}
        ran = {_function(t["nodeid"]).split("::")[-1] for t in result.tests if t["kind"] == "check"}
        failed = {_function(t["nodeid"]).split("::")[-1] for t in result.failed("check")}
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
    by_name = {job.name: r for job, r in zip(plan, results, strict=True) if not job.selection}
    solution = by_name.get("solution")
    if solution is None or solution.status != "ok":
        return []
    checks = {_function(t["nodeid"]) for t in solution.tests if t["kind"] == "check"}
    wrong = [r for name, r in by_name.items() if name == "starter" or name.startswith("bad_")]
    caught = {_function(t["nodeid"]) for r in wrong for t in r.failed("check")}
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
    student_tests = tuple(t.student_test for t in spec.tasks if t.student_test)
    yield _Job("solution", solution, None, ())
    yield _Job("starter", catalog.exercise_dir(spec), None, ())
    for variant in catalog.variants(spec):
        yield _Job(variant.name, variant, solution if student_tests else None, ())
    for name in student_tests:
        yield _Job("student test vs starter", catalog.exercise_dir(spec), solution, (name,))
        for variant in catalog.variants(spec):
            yield _Job(f"student test vs {variant.name}", variant, solution, (name,))


def _run(catalog: Catalog, spec: ExerciseSpec, job: _Job, tmp: Path) -> RunResult:
    dest = Path(tempfile.mkdtemp(dir=tmp))
    shutil.rmtree(dest)
    folder = assemble(catalog, spec, job.target, dest)
    if job.test_from is not None:
        tests_only = type(spec)(
            spec.id, spec.title, tuple(t.student_test for t in spec.tasks if t.student_test), spec.tasks
        )
        overlay_editable(tests_only, job.test_from, folder)
    return run_tree(folder, *(str(folder / name) for name in job.selection))


def _judge(spec: ExerciseSpec, job: _Job, result: RunResult) -> Verdict:
    def verdict(expectation: str, ok: bool, detail: str = "") -> Verdict:
        if result.status not in ("ok",):
            return Verdict(spec.id, job.name, expectation, False, f"{result.status}: {result.message}")
        return Verdict(spec.id, job.name, expectation, ok, detail)

    failing_checks = sorted({t["nodeid"].split("::", 1)[-1] for t in result.failed("check")})
    failing_tests = sorted({t["nodeid"].split("::", 1)[-1] for t in result.failed("test")})
    if job.selection:
        should_fail = "vs starter" in job.name or "vs bad_" in job.name
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
        return verdict(
            "fails visible tests and hidden checks",
            bool(failing_tests) and bool(failing_checks),
            f"{len(failing_tests)} visible test(s) and {len(failing_checks)} check(s) fail",
        )
    return verdict("caught by at least one hidden check", bool(failing_checks), ", ".join(failing_checks[:4]))
