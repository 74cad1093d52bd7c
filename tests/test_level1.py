"""Level 1 (predict): answers are data, validated per question; the key is observed by running the puzzle.

The first half needs no database: parsing, forms, messages. The second half runs exercises' hidden
checks on assembled trees, to prove the reference scores full, the seeds' answers lose exactly where
the seeds are wrong, and a changed puzzle changes the key (nothing is stored).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbkata import feedback
from dbkata.answers import AnswerError, Question, Quiz, expected_failures, load_questions, parse_answers
from dbkata.assemble import assemble
from dbkata.catalog import ExerciseSpec, load_catalog
from dbkata.grading.record import ExerciseRun
from dbkata.grading.score import score_exercise
from dbkata.observe import Printed, parse_value, run_printing
from dbkata.report import Kind, Status
from dbkata.runner import RunResult, run_tree
from dbkata.server import EmbeddedServer

ROOT = Path(__file__).parents[1]
CATALOG = load_catalog(ROOT)
GOLDEN = Path(__file__).parent / "golden"
LIFECYCLE = CATALOG.get("level1/ex01_lifecycle")


def quiz(spec: ExerciseSpec, text: str, tmp_path: Path) -> Quiz:
    """The exercise's questions with ``text`` as the answers file."""
    path = tmp_path / "answers.toml"
    path.write_text(text)
    return parse_answers(load_questions(CATALOG.exercise_dir(spec)), path)


def failure(action: object) -> str:
    """The student-facing message of a check that fails."""
    assert callable(action)
    with pytest.raises(pytest.fail.Exception) as caught:
        action()
    return str(caught.value)


@pytest.fixture
def in_exercise() -> Iterator[None]:
    """Messages as a student of level1/ex01_lifecycle, task 1, sees them."""
    feedback.set_current(feedback.CheckContext("level1/ex01_lifecycle", 1))
    yield
    feedback.set_current(feedback.CheckContext())


def _compare_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("DBKATA_UPDATE_GOLDEN") == "1":
        path.write_text(text + "\n")
    assert text + "\n" == path.read_text(), f"message differs from {path}"


# -- forms -----------------------------------------------------------------------------------------------

SEQ = Question("order", "1a", 1, "sequence", "the order", choices=("DEP-1", "ROUTE-1", "SEND"))
SET = Question("failed", "1b", 1, "set", "which fail", choices=("A", "B", "C"))
INT = Question("rows", "1c", 1, "int", "how many", allow_none=True)
EXC = Question("error", "1d", 1, "exception", "which exception", allow_none=True)
BOOL = Question("exists", "2", 2, "bool", "is it there")
NUMBERED = Question("failed", "3", 3, "set", "which requests", choices=tuple(str(i) for i in range(10)))
QUALIFIED = Question("error", "4", 4, "exception", "which exception", qualified=True)


@pytest.mark.parametrize(
    ("question", "raw", "actual"),
    [
        (SEQ, [" dep-1", "Route-1 ", "send"], ["DEP-1", "ROUTE-1", "SEND"]),
        (SET, ["c", "A"], {"A", "C"}),
        (INT, 0, 0),
        (INT, "None", None),
        (EXC, "MissingGreenlet", "sqlalchemy.exc.MissingGreenlet"),
        (EXC, "sqlalchemy.exc.missinggreenlet", "sqlalchemy.exc.MissingGreenlet"),
        (EXC, "none", None),
        (BOOL, "Yes", True),
        (BOOL, False, False),
        (NUMBERED, [9, "3", 4], {"3", "4", "9"}),
        (QUALIFIED, "sqlalchemy.exc.TimeoutError", "sqlalchemy.exc.TimeoutError"),
        (QUALIFIED, "TimeoutError", "builtins.TimeoutError"),
    ],
)
def test_equivalent_spellings_match(question: Question, raw: object, actual: object) -> None:
    assert question.same(question.normalize(raw), actual)


@pytest.mark.parametrize(
    ("question", "raw", "actual"),
    [
        (SEQ, ["ROUTE-1", "DEP-1", "SEND"], ["DEP-1", "ROUTE-1", "SEND"]),  # order is asked
        (SET, ["A"], {"A", "C"}),
        (INT, 1, 0),
        (INT, "none", 0),
        (EXC, "TimeoutError", "sqlalchemy.exc.IntegrityError"),
        (EXC, "builtins.TimeoutError", "sqlalchemy.exc.TimeoutError"),  # a full name must be the class
        (EXC, "none", "sqlalchemy.exc.MissingGreenlet"),
        (BOOL, "no", True),
        (NUMBERED, [3, 4], {"3", "4", "9"}),
        (QUALIFIED, "TimeoutError", "sqlalchemy.exc.TimeoutError"),  # a bare name is the builtin
    ],
)
def test_different_answers_do_not_match(question: Question, raw: object, actual: object) -> None:
    assert not question.same(question.normalize(raw), actual)


@pytest.mark.parametrize(
    ("question", "raw", "says"),
    [
        (SEQ, "DEP-1, SEND", "not a list of labels"),
        (SEQ, ["DEP-1", "COMMIT"], "unknown label(s) 'COMMIT'"),
        (SET, ["A", "a"], "a label appears twice"),
        (INT, "zero", "not a whole number"),
        (INT, 1.0, "not a whole number"),
        (INT, True, "not a whole number"),
        (EXC, "Missing Greenlet", "not a class name"),
        (BOOL, "nope", "not yes or no"),
        (BOOL, "", "is not answered yet"),
        (SEQ, [], "is not answered yet"),
    ],
)
def test_malformed_answers_say_what_form_is_expected(question: Question, raw: object, says: str) -> None:
    with pytest.raises(AnswerError) as caught:
        question.normalize(raw)
    assert says in str(caught.value)
    assert f"expected {question.form()}" in str(caught.value)


def test_none_is_refused_where_the_question_does_not_allow_it() -> None:
    strict = Question("rows", "1", 1, "int", "how many")
    with pytest.raises(AnswerError, match="not a whole number"):
        strict.normalize("none")


# -- files -----------------------------------------------------------------------------------------------


def test_the_starter_lists_every_question_to_fill_in() -> None:
    questions = load_questions(CATALOG.exercise_dir(LIFECYCLE))
    starter = parse_answers(questions, CATALOG.exercise_dir(LIFECYCLE) / "answers.toml")
    problems = starter.problems()
    assert [p.split(".")[0] for p in problems] == [q.number for q in questions]
    assert all("is not answered yet" in p for p in problems)


def test_a_file_that_is_not_toml_costs_every_question_with_one_message(tmp_path: Path, in_exercise: None) -> None:
    broken = quiz(LIFECYCLE, 'default_order = ["DEP-1"\n', tmp_path)
    [problem] = broken.problems()
    assert problem.startswith("answers.toml is not valid TOML (")
    for q in broken.questions:
        if not q.manual:
            assert problem in failure(lambda q=q: broken.check(q.key, None))


def test_a_misspelled_key_costs_only_its_question(tmp_path: Path, in_exercise: None) -> None:
    reference = (CATALOG.solution_dir(LIFECYCLE) / "answers.toml").read_text()
    answered = quiz(LIFECYCLE, reference.replace("duplicate_status =", "duplicate_statu ="), tmp_path)
    assert (
        answered.problems()[-1]
        == "`duplicate_statu` is not a question of this exercise; did you mean `duplicate_status`?"
    )
    assert "is `duplicate_statu` a misspelling of it?" in failure(lambda: answered.check("duplicate_status", 500))
    answered.check("duplicate_order", ["DEP-1", "ROUTE-1", "DEP-3", "DEP-4", "SEND"])  # the others still count


def test_answers_are_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    payload = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    answered = quiz(LIFECYCLE, f"default_order = [{payload!r}]\nexplain = {payload!r}\n", tmp_path)
    answered.problems()
    assert not marker.exists()


def test_wrong_prediction_message(tmp_path: Path, in_exercise: None) -> None:
    answered = quiz(LIFECYCLE, 'default_order = ["DEP-1", "DEP-2", "ROUTE-1", "ROUTE-2", "DEP-4", "SEND"]', tmp_path)
    text = failure(lambda: answered.check("default_order", ["DEP-1", "ROUTE-1", "ROUTE-2", "SEND", "DEP-2", "DEP-4"]))
    _compare_golden("answers_wrong_prediction", text)


def test_malformed_answer_message(tmp_path: Path, in_exercise: None) -> None:
    answered = quiz(LIFECYCLE, 'default_rows_at_send = "zero"', tmp_path)
    _compare_golden("answers_malformed", failure(lambda: answered.check("default_rows_at_send", 0)))


def test_seed_answers_are_expected_to_lose_exactly_where_the_seed_is_wrong() -> None:
    questions = load_questions(CATALOG.exercise_dir(LIFECYCLE))
    reference = parse_answers(questions, CATALOG.solution_dir(LIFECYCLE) / "answers.toml")
    seed = parse_answers(questions, CATALOG.checks_dir(LIFECYCLE) / "variants/bad_seed_answers/answers.toml")
    assert expected_failures(questions, reference, seed) == {"default_order", "default_rows_at_send"}


LEVEL1 = [spec for spec in CATALOG.exercises if spec.level == "level1"]


@pytest.mark.parametrize("spec", LEVEL1, ids=lambda s: s.slug)
def test_every_level1_exercise_declares_its_questions_and_keeps_answers_as_data(spec: ExerciseSpec) -> None:
    assert spec.editable[0] == "answers.toml"  # answers are data; a "fix it" task adds a module
    fixes = spec.editable[1:]
    assert all(name.endswith(".py") for name in fixes)
    assert not fixes or (CATALOG.checks_dir(spec) / "check_fix.py").is_file()
    questions = load_questions(CATALOG.exercise_dir(spec))
    automatic = {q.key for q in questions if not q.manual}
    manual_tasks = {q.task for q in questions if q.manual}
    assert manual_tasks == {t.number for t in spec.tasks if t.manual is not None}  # explain = a manual task
    fix_task = {spec.tasks[-1].number} if fixes else set()  # "fix it" is the last task, graded by running it
    assert {q.task for q in questions} == {t.number for t in spec.tasks} - fix_task
    reference = parse_answers(questions, CATALOG.solution_dir(spec) / "answers.toml")
    starter = parse_answers(questions, CATALOG.exercise_dir(spec) / "answers.toml")
    assert reference.problems() == []
    assert expected_failures(questions, reference, starter) == automatic  # the starter loses every question
    for variant in CATALOG.variants(spec):
        lost = expected_failures(questions, reference, parse_answers(questions, variant / "answers.toml"))
        bad_fix = any((variant / name).is_file() for name in fixes)  # a wrong fix with right answers
        assert bool(lost) == variant.name.startswith("bad_") or bad_fix, variant.name


# -- observing puzzle code ------------------------------------------------------------------------------


async def test_run_printing_keeps_lines_marks_and_the_exception_in_order() -> None:
    async def puzzle(printed: Printed) -> None:
        print("A: first = 1")
        printed.mark("SEND")
        print("B: second", end="")
        print(" = None")
        raise LookupError("boom")

    printed = await run_printing(puzzle)
    assert printed.labels == ["A", "SEND", "B"]
    assert (printed.value("A"), printed.value("B")) == (1, None)
    assert isinstance(printed.raised, LookupError)
    with pytest.raises(KeyError):
        printed.value("C")


@pytest.mark.parametrize(("text", "value"), [("None", None), ("True", True), ("-3", -3), ("Work", "Work")])
def test_printed_values_are_read_as_python_printed_them(text: str, value: object) -> None:
    assert parse_value(text) == value


# -- real runs: the key is observed ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_server() -> Iterator[None]:
    """Hold the embedded server for the module, so each run below attaches in milliseconds."""
    server = EmbeddedServer()
    server.acquire()
    yield
    server.release()


def run(spec: ExerciseSpec, target: Path, tmp_path: Path, *, edit: tuple[str, str, str] | None = None) -> RunResult:
    """Run the hidden checks of ``spec`` on an assembled tree; ``edit`` = (given file, old, new) first."""
    folder = assemble(CATALOG, spec, target, tmp_path / "tree")
    if edit is not None:
        name, old, new = edit
        source = (folder / name).read_text()
        assert old in source
        (folder / name).write_text(source.replace(old, new))
    result = run_tree(folder)
    assert result.status == "ok", result.output[-2000:]
    return result


def failed_checks(result: RunResult) -> set[str]:
    return {t.nodeid.rsplit("::", 1)[-1] for t in result.failed(Kind.CHECK)}


def test_reference_scores_full_and_seed_answers_lose_tasks_1(tmp_path: Path, shared_server: None) -> None:
    reference = run(LIFECYCLE, CATALOG.solution_dir(LIFECYCLE), tmp_path / "ref")
    seed = run(LIFECYCLE, CATALOG.checks_dir(LIFECYCLE) / "variants/bad_seed_answers", tmp_path / "seed")
    full = score_exercise(LIFECYCLE, ExerciseRun(Status.OK, tests=reference.tests))
    assert [t.score for t in full.tasks] == [2.0, 2.0, 2.0, None]  # task 4 is read by a person
    scored = score_exercise(LIFECYCLE, ExerciseRun(Status.OK, tests=seed.tests))
    assert [t.score for t in scored.tasks] == [0.0, 2.0, 2.0, None]
    assert failed_checks(seed) == {"test_default_order", "test_default_rows_at_send"}


@pytest.mark.parametrize(
    ("exercise", "edit", "lost"),
    [
        # /tasks/early loses its function scope: it behaves like /tasks
        (
            "level1/ex01_lifecycle",
            ("lifecycle.py", 'Depends(get_session, scope="function")', "Depends(get_session)"),
            {"test_early_order", "test_early_rows_at_send"},
        ),
        # the validation rule no longer fires: the task is committed and found
        (
            "level1/ex03_phantom_record",
            ("phantom.py", "if len(task.title) > 10:", "if len(task.title) > 100:"),
            {"test_printed", "test_task_exists"},
        ),
        # dropped() keeps its category after all: line E prints
        (
            "level1/ex04_refresh_illusion",
            ("refresh.py", "        del work\n", "        assert work\n"),
            {"test_dropped_printed", "test_dropped_exception"},
        ),
        # names_kept() keeps nothing: every lookup misses
        (
            "level1/ex06_weak_identity_map",
            ("lookups.py", "kept.append(category)", "kept.append(None)"),
            {"test_kept_selects"},
        ),
    ],
    ids=["lifecycle", "phantom", "refresh", "weak_identity_map"],
)
def test_changing_the_puzzle_changes_the_key(
    exercise: str, edit: tuple[str, str, str], lost: set[str], tmp_path: Path, shared_server: None
) -> None:
    spec = CATALOG.get(exercise)
    result = run(spec, CATALOG.solution_dir(spec), tmp_path, edit=edit)
    assert failed_checks(result) == lost  # the same reference answers, against a changed puzzle
