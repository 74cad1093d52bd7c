"""Scoring is pure: records in, points and reasons out."""

from __future__ import annotations

from typing import Any

import pytest

from dbkata.catalog import ExerciseSpec, Task
from dbkata.grading.score import score_exercise, score_student

SPEC = ExerciseSpec(
    "level2/ex01_tally",
    "Tally",
    ("tally.py", "test_mine.py"),
    (Task(1, 2), Task(2, 3), Task(3, 2, student_test="test_mine.py"), Task(4, 1, manual="rubric text")),
)


def _test(name: str, task: int, outcome: str, kind: str = "check") -> dict[str, Any]:
    return {
        "nodeid": f"exercises/level2/ex01_tally/check_x.py::{name}",
        "kind": kind,
        "task": task,
        "outcome": outcome,
        "message": None if outcome == "passed" else f"{name} broke",
        "evidence": {},
    }


def _run(tests: list[dict[str, Any]], student: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    run: dict[str, Any] = {"status": "ok", "message": None, "files": ["tally.py"], "tests": tests}
    if student is not None:
        run["student_tests"] = {"3": student}
    return run


def test_points_are_proportional_to_passed_checks_of_the_task() -> None:
    run = _run(
        [
            _test("a", 1, "passed"),
            _test("b", 1, "failed"),
            _test("c", 2, "passed"),
            _test("d", 2, "passed"),
            _test("e", 2, "skipped"),
            _test("v", 2, "passed", kind="test"),
        ]
    )
    scored = score_exercise(SPEC, run)
    assert [t.score for t in scored.tasks[:2]] == [1.0, 2.25]
    assert scored.tasks[0].reason == "1 of 2 checks passed"
    assert scored.tasks[1].status == "partial"
    assert [i.passed for i in scored.tasks[1].items] == [True, True, False, True]


def test_manual_task_has_no_score_and_is_not_counted_in_the_points() -> None:
    scored = score_exercise(SPEC, _run([_test("a", 1, "passed")]))
    assert scored.tasks[3].score is None
    assert scored.tasks[3].manual == "rubric text"
    assert scored.points == 7


@pytest.mark.parametrize("status", ["timeout", "crashed", "collection_error", "not_run"])
def test_a_run_that_did_not_complete_earns_zero_with_its_reason(status: str) -> None:
    scored = score_exercise(SPEC, {"status": status, "message": "timed out after 30 s", "tests": []})
    assert scored.score == 0
    assert all(t.score == 0 for t in scored.tasks if t.manual is None)
    assert "timed out after 30 s" in scored.tasks[0].reason


def test_infrastructure_error_gives_no_score_at_all() -> None:
    scored = score_student(
        "amy", [SPEC], {"exercises": {SPEC.id: {"status": "infrastructure_error", "message": "server died"}}}
    )
    assert scored.exercises[0].score is None
    assert scored.total is None
    assert scored.status == "infrastructure_error"


def test_task_without_any_check_that_ran_earns_zero() -> None:
    scored = score_exercise(SPEC, _run([_test("a", 1, "passed")]))
    assert scored.tasks[1].score == 0
    assert scored.tasks[1].reason == "no test or check of this task ran"


def test_student_test_scores_what_it_catches_once_it_passes_on_the_reference() -> None:
    runs = [
        {"target": "solution", "outcome": "passed"},
        {"target": "starter", "outcome": "failed"},
        {"target": "bad_a", "outcome": "failed"},
        {"target": "bad_b", "outcome": "passed"},
        {"target": "bad_c", "outcome": "timeout"},
    ]
    task = score_exercise(SPEC, _run([], runs)).tasks[2]
    assert task.score == 1.0  # 2 of 4 flawed versions caught, out of 2 points
    assert "catches 2 of 4 flawed versions" in task.reason


def test_student_test_that_fails_on_the_reference_earns_zero_whatever_it_catches() -> None:
    runs = [
        {"target": "solution", "outcome": "failed", "message": "assert 1 == 2\nmore"},
        {"target": "starter", "outcome": "failed"},
    ]
    task = score_exercise(SPEC, _run([], runs)).tasks[2]
    assert task.score == 0
    assert task.reason == "your test_mine.py must pass on the reference solution; there it failed: assert 1 == 2"


def test_student_total_and_status() -> None:
    other = ExerciseSpec("level2/ex02_echo", "Echo", ("echo.py",), (Task(1, 2),))
    record = {
        "exercises": {
            SPEC.id: _run([_test("a", 1, "passed"), _test("c", 2, "passed")]),
            other.id: {"status": "timeout", "message": "timed out after 5 s"},
        }
    }
    scored = score_student("amy", [SPEC, other], record)
    assert (scored.total, scored.points, scored.status) == (5.0, 9.0, "graded with errors")
    assert score_student("amy", [SPEC, other], {"exercises": {}}).status == "incomplete"
