"""The plugin as a student meets it: progress summary and task context in messages."""

from __future__ import annotations

import pytest

from tests.conftest import demo_exercise

_TESTS = """
import pytest
import dbkata

@pytest.mark.task(1)
def test_first_task_passes():
    assert True

@pytest.mark.task(2)
def test_second_task_fails():
    dbkata.fail("the property in plain words", "observed 3, expected 2", advice="Look at the loop.")

@pytest.mark.task(2)
def test_second_task_other_test_passes():
    assert True
"""


def test_summary_lists_tasks_and_points_at_the_next_one(pytester: pytest.Pytester) -> None:
    demo_exercise(pytester, {"test_demo.py": _TESTS})
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*[[]level2/ex04_demo · task 2[]] the property in plain words",
            "*  observed 3, expected 2",
            '*  Look at the loop. → HINTS.md, "2."',
            "level2/ex04_demo  task 1 ✓  task 2 ✗  (1/2)",
            "Progress: 1/2 tasks",
            "Next: exercises/level2/ex04_demo/README.md, task 2",
        ]
    )
