"""``dbkata check-my-test EXERCISE``: the visible part of how the grader judges a test the student wrote.

The grader runs the student's test file on every correct version of the code (it must pass on all of
them, else the task scores 0) and on every flawed one (points for each it fails on). Here it runs on
the two versions a student may see: the reference solution, where this copy of the workbook has one,
and the pristine starter. The grader's other versions stay hidden; nothing here names them.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from dbkata.assemble import assemble_student_test
from dbkata.catalog import Catalog, ExerciseSpec, load_catalog
from dbkata.cli.common import CliError
from dbkata.cli.student_files import pristine_starter
from dbkata.grading.record import StudentTestRun, TestRunOutcome
from dbkata.grading.run import classify
from dbkata.runner import RunResult, run_tree

_RULE = {
    "solution": "must pass on the reference solution (on any correct version, or the task scores 0)",
    "starter": "should fail on the starter code (the grader gives points for each flawed version it fails on)",
}


def check_my_test(a: argparse.Namespace) -> int:
    """Run each student-written test file of the exercise on the reference and the starter; 0 when both go as graded."""
    catalog = load_catalog(a.workbook)
    spec = catalog.get(a.exercise)
    tasks = [t for t in spec.tasks if t.student_test]
    if not tasks:
        having = ", ".join(s.id for s in catalog.exercises if any(t.student_test for t in s.tasks)) or "none"
        raise CliError(f"{spec.id} has no task graded by a test you write; the exercises that have one: {having}")
    ok = True
    with tempfile.TemporaryDirectory(prefix="dbkata-check-my-test-") as tmp:
        starter = Path(tmp) / "starter"
        pristine_starter(catalog, spec, starter)
        targets = [("solution", catalog.solution_dir(spec)), ("starter", starter)]
        for task in tasks:
            name = str(task.student_test)
            print(f"{spec.id} · task {task.number}: your {name}, run as the grader runs it")
            mine = catalog.exercise_dir(spec)
            if not (mine / name).is_file():
                print(f"  exercises/{spec.id}/{name} is missing: `dbkata reset {spec.id}` brings back the starter's")
                ok = False
                continue
            for label, code in targets:
                ok &= _judge(catalog, spec, label, code, mine, name, Path(tmp) / f"{label}-{task.number}")
    print(
        "The grader also runs it on other correct versions (it must pass on every one) and on flawed versions "
        "it keeps hidden (points for each it fails on)."
    )
    return 0 if ok else 1


def _judge(catalog: Catalog, spec: ExerciseSpec, label: str, code: Path, mine: Path, name: str, dest: Path) -> bool:
    """Run the test on one version, print one line (two for a run that broke) and whether it went as graded."""
    if not code.is_dir():
        print(
            f"  on the reference solution: not in this copy of the workbook. It {_RULE[label]}: "
            f"check it passes on your own fixed code (`pytest exercises/{spec.id}/{name}`)"
        )
        return True
    folder = assemble_student_test(catalog, spec, code, mine, (name,), dest)
    result = run_tree(folder, str(folder / name))
    run = classify(label, result, (mine / name).read_text(errors="replace"))
    wanted = TestRunOutcome.PASSED if run.correct_version else TestRunOutcome.FAILED
    where = "the reference solution" if label == "solution" else "the starter code"
    mark = "ok" if run.outcome == wanted else "NOT AS GRADED"
    print(f"  on {where}: {_describe(run)}: {mark}, it {_RULE[label]}")
    if run.outcome == TestRunOutcome.INCOMPLETE and label == "starter":
        print(f"    {_first_lines(result)}")  # the student's own test on public code: its error may be shown
    return run.outcome == wanted


def _describe(run: StudentTestRun) -> str:
    if run.outcome == TestRunOutcome.FAILED:
        return "failed (" + ", ".join(run.failed) + ")"
    if run.outcome == TestRunOutcome.INCOMPLETE:
        return f"did not complete ({run.status.value.replace('_', ' ')})"
    return {TestRunOutcome.PASSED: "passed", TestRunOutcome.NO_TESTS: "collected no test"}.get(
        run.outcome, run.outcome.value
    )


def _first_lines(result: RunResult, limit: int = 6) -> str:
    lines = [line for line in (result.message or result.output).splitlines() if line.strip()][:limit]
    return "\n    ".join(lines) or "(no output)"
