"""The end-of-run summary: a task is done only when all its tests ran and passed; points; the next step."""

from __future__ import annotations

import pytest

_MANIFEST = """format_version = 1
[[exercise]]
id = "level2/ex01_first"
title = "First"
editable = ["code.py"]
tasks = [{ points = 3 }, { points = 2 }]
[[exercise]]
id = "level2/ex02_second"
title = "Second"
editable = ["code.py"]
tasks = [{ points = 4 }]
"""
_TESTS = """
import pytest

@pytest.mark.task(1)
def test_one():
    pass

@pytest.mark.task(1)
def test_two():
    pass

@pytest.mark.task(2)
def test_three():
    assert {task2}
"""


def _workbook(pytester: pytest.Pytester, task2: str) -> None:
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\n")
    (pytester.path / "exercises.toml").write_text(_MANIFEST)
    for name in ("ex01_first", "ex02_second"):
        folder = pytester.path / "exercises" / "level2" / name
        folder.mkdir(parents=True)
        (folder / "code.py").write_text("")
    (pytester.path / "exercises" / "level2" / "ex01_first" / "test_first.py").write_text(_TESTS.format(task2=task2))


def _summary(result: pytest.RunResult) -> list[str]:
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if "dbkata progress" in line)
    return [line for line in lines[start + 1 :] if not line.startswith("=")][:4]


def test_a_task_with_a_deselected_test_is_not_done(pytester: pytest.Pytester) -> None:
    _workbook(pytester, "True")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "one")
    assert _summary(result) == [
        "level2/ex01_first  task 1 ·  task 2 ·  (0/2)",  # test_one passed, but test_two did not run
        "Progress: 0/2 tasks, 0/5 points",
        "(· = not all of the task's tests ran: run the whole exercise folder to count it)",
        "Next: exercises/level2/ex01_first/README.md, task 1",
    ]


def test_failing_task_is_next_and_points_count_done_tasks(pytester: pytest.Pytester) -> None:
    _workbook(pytester, "False")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert _summary(result)[:3] == [
        "level2/ex01_first  task 1 ✓  task 2 ✗  (1/2)",
        "Progress: 1/2 tasks, 3/5 points",
        "Next: exercises/level2/ex01_first/README.md, task 2",
    ]


def test_when_all_pass_the_next_exercise_in_manifest_order_is_next(pytester: pytest.Pytester) -> None:
    _workbook(pytester, "True")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert _summary(result)[:3] == [
        "level2/ex01_first  task 1 ✓  task 2 ✓  (2/2)",
        "Progress: 2/2 tasks, 5/5 points",
        "Next: exercises/level2/ex02_second/README.md, task 1",
    ]


_PREDICT = """format_version = 1
[[exercise]]
id = "level1/ex01_guess"
title = "Guess"
editable = ["answers.toml"]
tasks = [{ points = 2 }]
[[exercise]]
id = "level1/ex02_again"
title = "Again"
editable = ["answers.toml"]
tasks = [{ points = 2 }]
"""


@pytest.mark.parametrize("complete", [True, False])
def test_a_predict_exercise_says_whether_its_answers_are_complete_never_right(
    pytester: pytest.Pytester, complete: bool
) -> None:
    # Level 1's visible test carries no task: it checks the answers' form, so no task is shown as done.
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\n")
    (pytester.path / "exercises.toml").write_text(_PREDICT)
    for name in ("ex01_guess", "ex02_again"):
        (pytester.path / "exercises" / "level1" / name).mkdir(parents=True)
        (pytester.path / "exercises" / "level1" / name / "answers.toml").write_text("")
    test = pytester.path / "exercises" / "level1" / "ex01_guess" / "test_answers.py"
    test.write_text(f"def test_every_question_is_answered():\n    assert {complete}\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    if complete:
        assert _summary(result)[:2] == [
            "level1/ex01_guess  answers complete: right or wrong is graded when you hand them in "
            "(`dbkata reveal` shows the real run)",
            "Next: exercises/level1/ex02_again/README.md, task 1",
        ]
    else:
        assert _summary(result)[:2] == [
            "level1/ex01_guess  answers not complete yet",
            "Next: exercises/level1/ex01_guess/answers.toml (its README.md asks the questions)",
        ]
    assert "Traceback" not in result.stdout.str()
