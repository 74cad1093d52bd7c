"""The grader knows what every run must report, and grades against the committed workbook."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from dbkata.catalog import load_catalog
from dbkata.grading import run
from dbkata.grading.database import SubmissionRole
from dbkata.grading.expect import Expectations, Expected, code_task_run, collect_expected
from dbkata.grading.record import ExerciseRun
from dbkata.grading.workbook import committed_workbook
from dbkata.report import Kind, Outcome, Status, TestResult
from dbkata.runner import RunResult
from tests.grading.conftest import WORKBOOK

A = "exercises/level2/ex02_echo/check_echo.py::test_a"
B = "exercises/level2/ex02_echo/check_echo.py::test_b"
EXPECTED = Expected({A: (Kind.CHECK, 1, False), B: (Kind.CHECK, 1, True)})


def _result(nodeid: str, task: int = 1, guard: bool = False) -> TestResult:
    return TestResult(nodeid, Kind.CHECK, task, Outcome.PASSED, guard)


def test_a_report_with_exactly_the_expected_ids_is_valid() -> None:
    run = code_task_run(EXPECTED, Status.OK, None, ("echo.py",), (_result(A), _result(B, guard=True)))
    assert run.status == Status.OK


@pytest.mark.parametrize(
    ("tests", "why"),
    [
        ((_result(A),), "1 missing: test_b"),
        ((_result(A), _result(B, guard=True), _result(A + "x")), "1 unknown: test_ax"),
        ((_result(A), _result(A), _result(B, guard=True)), "1 reported twice: test_a"),
        ((_result(A), _result(B, guard=False)), "1 with another task or guard flag than the workbook's: test_b"),
        ((_result(A, task=2), _result(B, guard=True)), "1 with another task or guard flag than the workbook's: test_a"),
        ((), "2 missing: test_a, test_b"),
    ],
)
def test_a_report_missing_unknown_duplicate_or_relabelled_is_an_invalid_run(
    tests: tuple[TestResult, ...], why: str
) -> None:
    run = code_task_run(EXPECTED, Status.OK, None, ("echo.py",), tests)
    assert run.status == Status.INVALID_REPORT
    assert run.message is not None
    assert why in run.message


def test_a_run_that_did_not_complete_keeps_its_own_status() -> None:
    assert code_task_run(EXPECTED, Status.TIMEOUT, "timed out", (), ()).status == Status.TIMEOUT


def test_expected_ids_come_from_the_starter_with_guards_and_without_student_tests() -> None:
    catalog = load_catalog(WORKBOOK)
    expected = collect_expected(catalog, catalog.get("level2/ex01_tally"))
    assert expected.problems == ()
    prefix = "exercises/level2/ex01_tally/"
    assert expected.tests[prefix + "check_tally.py::test_double_stays_a_plain_function"] == (Kind.CHECK, 1, True)
    assert expected.tests[prefix + "check_tally.py::test_double_any[7]"] == (Kind.CHECK, 1, False)
    assert expected.tests[prefix + "test_tally.py::test_add_one"] == (Kind.TEST, 2, False)
    assert not [n for n in expected.tests if "test_mine.py" in n]  # the student-written test file
    assert len(expected.tests) == 7


def test_a_check_that_imports_an_editable_module_at_collection_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "workbook"
    shutil.copytree(WORKBOOK, root)
    check = root / "checks" / "level2" / "ex02_echo" / "check_echo.py"
    check.write_text("from exercises.level2.ex02_echo import echo  # noqa: F401\n" + check.read_text())
    catalog = load_catalog(root)
    expected = collect_expected(catalog, catalog.get("level2/ex02_echo"))
    assert expected.problems == ("collecting the checks imports the editable module echo",)


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def test_grading_uses_the_committed_workbook_and_warns_about_a_changed_tree(tmp_path: Path) -> None:
    root = tmp_path / "workbook"
    shutil.copytree(WORKBOOK, root)
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "workbook")
    starter = root / "exercises" / "level2" / "ex02_echo" / "echo.py"
    pristine = starter.read_text()
    starter.write_text("solved in the instructor's clone\n")
    catalog, warnings = committed_workbook(load_catalog(root), tmp_path / "snapshot")
    assert catalog.root == (tmp_path / "snapshot").resolve()
    assert (catalog.exercise_dir(catalog.get("level2/ex02_echo")) / "echo.py").read_text() == pristine
    assert len(warnings) == 1
    assert "differs from its last commit in 1 path(s) (exercises/level2/ex02_echo/echo.py)" in warnings[0]


def test_a_clean_checkout_gives_no_warning_and_a_tree_without_git_says_so(tmp_path: Path) -> None:
    root = tmp_path / "workbook"
    shutil.copytree(WORKBOOK, root)
    catalog, warnings = committed_workbook(load_catalog(root), tmp_path / "snapshot")
    assert catalog.root == root.resolve()
    assert len(warnings) == 1
    assert "is not a git checkout: graded from its files as they are" in warnings[0]
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "workbook")
    assert committed_workbook(load_catalog(root), tmp_path / "snapshot2")[1] == ()


def _graded(monkeypatch: pytest.MonkeyPatch, reported: tuple[TestResult, ...]) -> ExerciseRun:
    """Grade ex02 of the fixture workbook with a scripted run that reports ``reported``."""
    catalog = load_catalog(WORKBOOK)
    monkeypatch.setattr(run, "_run_once", lambda *args: RunResult(Status.OK, reported))
    healthy: Any = type("Server", (), {"check_health": lambda self: None})()
    ctx = run._Context(
        catalog,
        None,
        healthy,
        SubmissionRole("r", ""),
        run.RunSettings(),
        Path("/nonexistent"),
        0.0,  # type: ignore[arg-type]
        itertools.count(),
        expected=Expectations(catalog),
    )
    return run._grade_exercise(ctx, catalog.get("level2/ex02_echo"), Path("/nonexistent"), ["echo.py"])


def test_a_run_reporting_every_expected_id_passes_and_one_missing_a_check_is_invalid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    catalog = load_catalog(WORKBOOK)
    ids = sorted(collect_expected(catalog, catalog.get("level2/ex02_echo")).tests)
    every = tuple(TestResult(i, Kind.CHECK if "check_" in i else Kind.TEST, 1, Outcome.PASSED) for i in ids)
    assert _graded(monkeypatch, every).status == Status.OK
    forged = _graded(monkeypatch, every[1:])  # a report that left out one hidden check, all the rest passed
    assert forged.status == Status.INVALID_REPORT
    assert forged.message == (
        "the run's report does not list the workbook's tests and checks: 1 missing: test_echo_any[]"
    )
