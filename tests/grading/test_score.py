"""Scoring is pure: records in, points and reasons out."""

from __future__ import annotations

import pytest

from dbkata.catalog import ExerciseSpec, Task
from dbkata.grading.expect import Expected, code_task_run
from dbkata.grading.record import ExerciseRun, GradingRecord, StudentTestRun, TestRunOutcome
from dbkata.grading.run import classify
from dbkata.grading.score import score_exercise, score_student
from dbkata.report import Kind, Outcome, Status, TestResult
from dbkata.runner import RunResult

SPEC = ExerciseSpec(
    "level2/ex01_tally",
    "Tally",
    ("tally.py", "test_mine.py"),
    (Task(1, 2), Task(2, 3), Task(3, 2, student_test="test_mine.py"), Task(4, 1, manual="rubric text")),
)
PASSED, FAILED = TestRunOutcome.PASSED, TestRunOutcome.FAILED


def _test(name: str, task: int, outcome: str, kind: Kind = Kind.CHECK, guard: bool = False) -> TestResult:
    return TestResult(
        f"exercises/level2/ex01_tally/check_x.py::{name}",
        kind,
        task,
        Outcome(outcome),
        guard,
        None if outcome == "passed" else f"{name} broke",
    )


def _run(tests: list[TestResult], student: list[StudentTestRun] | None = None) -> ExerciseRun:
    return ExerciseRun(Status.OK, None, ("tally.py",), tuple(tests), {3: tuple(student)} if student else {})


def test_points_are_proportional_to_passed_checks_of_the_task() -> None:
    run = _run(
        [
            _test("a", 1, "passed"),
            _test("b", 1, "failed"),
            _test("c", 2, "passed"),
            _test("d", 2, "passed"),
            _test("e", 2, "skipped"),
            _test("v", 2, "passed", kind=Kind.TEST),
        ]
    )
    scored = score_exercise(SPEC, run)
    assert [t.score for t in scored.tasks[:2]] == [1.0, 2.25]
    assert scored.tasks[0].reason == "1 of 2 checks passed"
    assert scored.tasks[1].status == "partial"
    assert [i.passed for i in scored.tasks[1].items] == [True, True, False, True]


def test_a_passing_guard_earns_nothing_and_does_not_count() -> None:
    run = _run([_test("g", 1, "passed", guard=True), _test("a", 1, "passed"), _test("b", 1, "failed")])
    task = score_exercise(SPEC, run).tasks[0]
    assert (task.score, task.reason) == (1.0, "1 of 2 checks passed")


def test_a_failed_guard_costs_the_whole_task_and_is_named() -> None:
    run = _run(
        [
            _test("g", 1, "failed", guard=True),
            _test("a", 1, "passed"),
            _test("c", 2, "passed"),
            _test("h", 2, "passed", guard=True),
        ]
    )
    scored = score_exercise(SPEC, run)
    assert scored.tasks[0].score == 0
    assert scored.tasks[0].reason.startswith("guard `g` did not pass")
    assert scored.tasks[1].score == 3  # another task's guard held: that task keeps its points


@pytest.mark.parametrize("outcome", ["skipped", "error"])
def test_a_guard_that_did_not_pass_in_any_way_costs_the_task(outcome: str) -> None:
    run = _run([_test("g", 1, outcome, guard=True), _test("a", 1, "passed")])
    assert score_exercise(SPEC, run).tasks[0].score == 0


def test_a_task_of_guards_only_earns_nothing_and_says_it_is_the_workbooks_fault() -> None:
    task = score_exercise(SPEC, _run([_test("g", 1, "passed", guard=True)])).tasks[0]
    assert task.score == 0
    assert task.reason == "the workbook has no graded check for this task"


def test_manual_task_has_no_score_and_is_not_counted_in_the_points() -> None:
    scored = score_exercise(SPEC, _run([_test("a", 1, "passed")]))
    assert scored.tasks[3].score is None
    assert scored.tasks[3].manual == "rubric text"
    assert scored.points == 7


@pytest.mark.parametrize("status", [Status.CRASHED, Status.COLLECTION_ERROR, Status.NOT_RUN, Status.INVALID_REPORT])
def test_a_run_that_did_not_complete_earns_zero_with_its_reason(status: Status) -> None:
    scored = score_exercise(SPEC, ExerciseRun(status, "it broke after 30 s", tests=(_test("a", 1, "passed"),)))
    assert scored.score == 0
    assert all(t.score == 0 for t in scored.tasks if t.manual is None)
    assert "it broke after 30 s" in scored.tasks[0].reason


def test_a_timeout_before_any_test_finished_earns_zero_with_its_reason() -> None:
    scored = score_exercise(SPEC, ExerciseRun(Status.TIMEOUT, "timed out after 30 s"))
    assert scored.score == 0
    assert "timed out after 30 s" in scored.tasks[0].reason


def test_a_timeout_costs_only_the_checks_that_did_not_finish() -> None:
    expected = Expected(
        {
            f"exercises/level2/ex01_tally/check_x.py::{name}": (Kind.CHECK, task, False)
            for name, task in [("a", 1), ("b", 1), ("c", 2), ("d", 2)]
        }
    )
    finished = (_test("a", 1, "passed"), _test("c", 2, "passed"), _test("d", 2, "passed"))
    run = code_task_run(expected, Status.TIMEOUT, "timed out after 30 s", ("tally.py",), finished)
    assert run.status == Status.TIMEOUT
    assert [(t.name, t.outcome) for t in run.tests][-1] == ("b", Outcome.MISSING)
    scored = score_exercise(SPEC, run)
    assert [t.score for t in scored.tasks[:2]] == [1.0, 3.0]
    assert scored.tasks[0].reason == "1 of 2 checks passed (1 did not finish before the run's time limit)"
    assert score_student("amy", [SPEC], GradingRecord("amy", "f", exercises={SPEC.id: run})).status == (
        "graded with errors"
    )


def test_a_timed_out_run_that_reports_an_unknown_check_is_invalid() -> None:
    expected = Expected({"exercises/level2/ex01_tally/check_x.py::a": (Kind.CHECK, 1, False)})
    run = code_task_run(expected, Status.TIMEOUT, "timed out", ("tally.py",), (_test("forged", 1, "passed"),))
    assert run.status == Status.INVALID_REPORT
    assert score_exercise(SPEC, run).score == 0


def test_an_invalid_report_is_a_run_with_errors_never_a_pass() -> None:
    record = GradingRecord("amy", "f", exercises={SPEC.id: ExerciseRun(Status.INVALID_REPORT, "1 missing: a")})
    scored = score_student("amy", [SPEC], record)
    assert (scored.total, scored.status) == (0, "graded with errors")
    assert scored.exercises[0].tasks[0].reason.startswith("the test run's report is not valid")


def test_infrastructure_error_gives_no_score_at_all() -> None:
    record = GradingRecord("amy", "f", exercises={SPEC.id: ExerciseRun(Status.INFRASTRUCTURE_ERROR, "server died")})
    scored = score_student("amy", [SPEC], record)
    assert scored.exercises[0].score is None
    assert scored.total is None
    assert scored.status == "infrastructure_error"


def test_task_without_any_check_that_ran_earns_zero() -> None:
    scored = score_exercise(SPEC, _run([_test("a", 1, "passed")]))
    assert scored.tasks[1].score == 0
    assert scored.tasks[1].reason == "no test or check of this task ran"


def test_student_test_scores_what_it_catches_once_it_passes_on_every_correct_version() -> None:
    runs = [
        StudentTestRun("solution", PASSED),
        StudentTestRun("good_core", PASSED),
        StudentTestRun("starter", FAILED, failed=("test_double",)),
        StudentTestRun("bad_a", FAILED, failed=("test_double",)),
        StudentTestRun("bad_b", PASSED),
        StudentTestRun("bad_c", TestRunOutcome.INCOMPLETE, Status.TIMEOUT),
    ]
    task = score_exercise(SPEC, _run([], runs)).tasks[2]
    assert task.score == 1.0  # 2 of 4 flawed versions caught, out of 2 points
    assert task.reason == (
        "passes on the reference solution and 1 other correct version(s) and catches 2 of 4 flawed versions"
    )
    assert [i.passed for i in task.items] == [True, True, True, True, False, False]


def test_student_test_that_fails_on_a_correct_alternative_earns_zero_and_names_it() -> None:
    runs = [
        StudentTestRun("solution", PASSED),
        StudentTestRun("good_core", FAILED, failed=("test_spies_on_rollback",)),
        StudentTestRun("starter", FAILED),
        StudentTestRun("bad_a", FAILED),
    ]
    task = score_exercise(SPEC, _run([], runs)).tasks[2]
    assert task.score == 0
    assert task.reason == (
        "your test_mine.py must pass on every correct version of the code; "
        "on the correct version good_core it failed (test_spies_on_rollback)"
    )


def test_student_test_that_fails_on_the_reference_earns_zero_whatever_it_catches() -> None:
    runs = [StudentTestRun("solution", FAILED, failed=("test_double",)), StudentTestRun("starter", FAILED)]
    task = score_exercise(SPEC, _run([], runs)).tasks[2]
    assert task.score == 0
    assert task.reason == (
        "your test_mine.py must pass on every correct version of the code; "
        "on the reference solution it failed (test_double)"
    )


def test_student_test_runs_carry_one_line_each_and_no_message() -> None:
    runs = [StudentTestRun("solution", TestRunOutcome.INCOMPLETE, Status.CRASHED)]
    task = score_exercise(SPEC, _run([], runs)).tasks[2]
    assert task.reason.endswith("on the reference solution it did not complete (crashed)")
    assert [(i.name, i.outcome, i.message) for i in task.items] == [
        ("on the reference solution", "did not complete (crashed)", None)
    ]


def test_a_student_test_run_names_only_functions_written_in_the_students_file() -> None:
    source = "import pytest\n\n\ndef test_double(exercise):\n    ...\n"
    path = "exercises/level2/ex01_tally/test_mine.py::"
    tests = (
        TestResult(path + "test_double[secret-source]", Kind.TEST, 3, Outcome.FAILED),
        TestResult(path + "test_made_from_the_code_it_ran", Kind.TEST, 3, Outcome.FAILED),
        TestResult(path + "test_ok", Kind.TEST, 3, Outcome.PASSED),
    )
    run = classify("solution", RunResult(Status.OK, tests), source)
    assert run == StudentTestRun("solution", FAILED, failed=("a test not written as a function", "test_double"))
    assert classify("bad_a", RunResult(Status.TIMEOUT, message="secret"), source) == StudentTestRun(
        "bad_a", TestRunOutcome.INCOMPLETE, Status.TIMEOUT
    )


def test_student_total_and_status() -> None:
    other = ExerciseSpec("level2/ex02_echo", "Echo", ("echo.py",), (Task(1, 2),))
    record = GradingRecord(
        "amy",
        "f",
        exercises={
            SPEC.id: _run([_test("a", 1, "passed"), _test("c", 2, "passed")]),
            other.id: ExerciseRun(Status.TIMEOUT, "timed out after 5 s"),
        },
    )
    scored = score_student("amy", [SPEC, other], record)
    assert (scored.total, scored.points, scored.status) == (5.0, 9.0, "graded with errors")
    assert score_student("amy", [SPEC, other], GradingRecord("amy", "f")).status == "incomplete"


def test_records_round_trip_through_json() -> None:
    record = GradingRecord(
        "amy",
        "f00",
        ("a note",),
        {SPEC.id: _run([_test("g", 1, "passed", guard=True)], [StudentTestRun("solution", PASSED)])},
        workbook="w",
        settings={"limits": {}},
    )
    assert GradingRecord.from_json(record.to_json()) == record
    with pytest.raises(ValueError, match="version"):
        GradingRecord.from_json({**record.to_json(), "version": 1})
