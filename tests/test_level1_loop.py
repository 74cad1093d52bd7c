"""Level 1's learning loop: "fix it" graded by running the fix, ``dbkata reveal``, and what the grader reports.

Real runs on the embedded server (no mocks): the fix's hidden checks on the reference, the starter and
each fix variant; reveal on a copy of the workbook; the grader's reading of a submission's answers and
reveals file, and the TA worksheet built from it.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from dbkata import learning
from dbkata.assemble import assemble
from dbkata.catalog import ExerciseSpec, load_catalog
from dbkata.cli import main
from dbkata.fixes import compare_fix
from dbkata.grading import collect
from dbkata.grading.learning import with_learning
from dbkata.grading.outputs import ta_worksheet
from dbkata.grading.record import ExerciseRun, GradingRecord
from dbkata.grading.score import score_exercise, score_student
from dbkata.report import Kind, Status
from dbkata.runner import RunResult, run_tree
from dbkata.server import EmbeddedServer

ROOT = Path(__file__).parents[1]
CATALOG = load_catalog(ROOT)
SAFETY = CATALOG.get("level1/ex02_false_safety_net")
GIVEN = (CATALOG.exercise_dir(SAFETY) / "safety_net.py").read_text()
STARTER_FIX = (CATALOG.exercise_dir(SAFETY) / "fix.py").read_text()
QUERY = "select(Task).where(Task.id == 1)"


@pytest.fixture(scope="module")
def shared_server() -> Iterator[None]:
    """Hold the embedded server for the module, so each run below attaches in milliseconds."""
    server = EmbeddedServer()
    server.acquire()
    yield
    server.release()


# -- fix it: how far a fix strays (no database) ----------------------------------------------------------


def test_the_starter_fix_is_the_given_function() -> None:
    found = compare_fix(GIVEN, STARTER_FIX, "read_task")
    assert (found.changed, found.problems) == (0, ())


def test_one_replaced_line_counts_once_and_imports_and_comments_are_free() -> None:
    fixed = (
        STARTER_FIX.replace(QUERY, f"{QUERY}.options(selectinload(Task.category))")
        .replace("scalar_one()\n", "scalar_one()  # eager\n")
        .replace("from .models import Task", "from sqlalchemy.orm import selectinload\n\nfrom .models import Task")
    )
    found = compare_fix(GIVEN, fixed.replace("    # TODO(task 5)", "    # my note\n    # TODO(task 5)"), "read_task")
    assert found.changed == 1
    assert found.problems == ()
    assert found.lines[0].startswith("- task = ")
    assert "selectinload" in found.lines[1]


def test_more_lines_other_code_or_a_missing_function_are_reported() -> None:
    two = STARTER_FIX.replace("title = {task.title}", "title = {task.title!r}")  # lines A and B
    assert compare_fix(GIVEN, two, "read_task").changed == 2
    patched = STARTER_FIX + "\nTask.category.property.lazy = 'joined'\n"
    assert compare_fix(GIVEN, patched, "read_task").problems == (
        "it holds code besides the imports and read_task(): line 25: Task.category.property.lazy = 'joined'",
    )
    assert compare_fix(GIVEN, "x = (", "read_task").problems[0].startswith("it does not parse")
    assert compare_fix(GIVEN, '"""Nothing."""\n', "read_task").problems == ("no function read_task() at the top level",)


# -- fix it: graded by running the fix --------------------------------------------------------------------


REFRESH = CATALOG.get("level1/ex04_refresh_illusion")


def run_fix_checks(spec: ExerciseSpec, target: Path, tmp_path: Path) -> RunResult:
    """The fix's hidden checks (check_fix.py) on ``target``, in-process."""
    folder = assemble(CATALOG, spec, target, tmp_path / "tree")
    result = run_tree(folder, str(folder / "check_fix.py"))
    assert result.status == "ok", result.output[-2000:]
    return result


def fix_score(spec: ExerciseSpec, result: RunResult) -> float | None:
    return score_exercise(spec, ExerciseRun(Status.OK, tests=result.tests)).tasks[-1].score  # "fix it" is last


PRINTS_C, PRINTS_E, ONE_LINE = "test_fix_prints_line_c", "test_fix_prints_line_e", "test_fix_changes_one_line"


@pytest.mark.parametrize(
    ("spec", "target", "score", "failed"),
    [
        (SAFETY, "solution", 2.0, set()),
        (SAFETY, "starter", 0.0, {PRINTS_C}),
        (SAFETY, "good_refresh_category", 2.0, set()),
        (SAFETY, "good_joinedload", 2.0, set()),
        (SAFETY, "bad_hides_the_error", 0.0, {PRINTS_C, ONE_LINE}),
        (SAFETY, "bad_rewrites_the_query", 0.0, {ONE_LINE}),
        (SAFETY, "bad_typed_name", 0.0, {PRINTS_C}),
        (REFRESH, "solution", 2.0, set()),
        (REFRESH, "starter", 0.0, {PRINTS_E}),
        (REFRESH, "good_assign_after_flush", 2.0, set()),
        (REFRESH, "bad_refresh_columns", 0.0, {PRINTS_E}),
        (REFRESH, "bad_category_object_refreshed", 0.0, {PRINTS_E}),  # refresh() expires what was set
        (REFRESH, "bad_seed_reload", 0.0, {ONE_LINE}),  # the seed's Fix A works, in four lines
    ],
    ids=lambda v: v.slug if isinstance(v, ExerciseSpec) else str(v),
)
def test_the_fix_is_graded_by_running_it(
    spec: ExerciseSpec, target: str, score: float, failed: set[str], tmp_path: Path, shared_server: None
) -> None:
    folder = {"solution": CATALOG.solution_dir(spec), "starter": CATALOG.exercise_dir(spec)}.get(
        target, CATALOG.checks_dir(spec) / "variants" / target
    )
    result = run_fix_checks(spec, folder, tmp_path)
    assert {t.nodeid.rsplit("::", 1)[-1] for t in result.failed(Kind.CHECK)} == failed
    assert fix_score(spec, result) == score


def test_a_fix_that_still_crashes_is_told_what_it_raised(tmp_path: Path, shared_server: None) -> None:
    result = run_fix_checks(SAFETY, CATALOG.exercise_dir(SAFETY), tmp_path)
    (message,) = [t.message or "" for t in result.failed(Kind.CHECK)]
    assert "the fixed read_task() still raises" in message
    assert "It raised MissingGreenlet" in message
    assert "'Garden'" in message


# -- dbkata reveal ------------------------------------------------------------------------------------------


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    """A copy of the workbook, so reveal's .dbkata/ and the answers edited here stay in the test."""
    book = tmp_path / "book"
    book.mkdir()
    for name in ("exercises.toml", "pyproject.toml", "conftest.py"):
        shutil.copy(ROOT / name, book / name)
    for name in ("exercises", "checks", "solutions"):
        shutil.copytree(ROOT / name, book / name, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return book


def test_reveal_refuses_until_every_question_is_answered(workbook: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answers = workbook / "exercises" / SAFETY.id / "answers.toml"
    reference = (CATALOG.solution_dir(SAFETY) / "answers.toml").read_text()
    answers.write_text(reference.replace('held_exception = "none"', 'held_exception = ""'))
    assert main(["reveal", SAFETY.id, "--workbook", str(workbook)]) == 2
    out = capsys.readouterr().out
    assert "1 to fix first" in out
    assert "2b. `held_exception` is not answered yet" in out
    assert not (workbook / learning.REVEALS).exists()  # nothing was revealed, nothing remembered


def test_reveal_is_for_predict_exercises_only(workbook: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reveal", "level2/ex05_lost_update", "--workbook", str(workbook)]) == 2
    assert "reveal is for level 1" in capsys.readouterr().err


def test_reveal_shows_the_real_run_and_remembers_the_answers(
    workbook: Path, capsys: pytest.CaptureFixture[str], shared_server: None
) -> None:
    answers = workbook / "exercises" / SAFETY.id / "answers.toml"
    shutil.copy(CATALOG.checks_dir(SAFETY) / "variants" / "bad_seed_answers" / "answers.toml", answers)
    assert main(["reveal", SAFETY.id, "--workbook", str(workbook)]) == 0
    out = capsys.readouterr().out
    # the seed believed line C crashes even while category 1 is held: the run says otherwise
    assert "✗ 2b. category_held(): the exception it raises" in out
    assert "    you: MissingGreenlet\n    run: none\n" in out
    assert "✗ 2a. category_held(): which of the lines A, B, C, D print" in out
    assert "    run: A, B, C, D\n" in out  # set answers are shown in the question's order
    assert "✓ 3b." in out
    recorded = learning.read_reveals((workbook / learning.REVEALS).read_bytes())
    assert recorded == {SAFETY.id: learning.fingerprint(answers.read_bytes())}


def test_reveal_ticks_every_right_prediction(
    workbook: Path, capsys: pytest.CaptureFixture[str], shared_server: None
) -> None:
    # sets, sequences, counts and yes/no answers too: the check compares the real values, never their text
    shutil.copy(CATALOG.solution_dir(SAFETY) / "answers.toml", workbook / "exercises" / SAFETY.id / "answers.toml")
    assert main(["reveal", SAFETY.id, "--workbook", str(workbook)]) == 0
    marks = [line[0] for line in capsys.readouterr().out.splitlines() if line[:1] in ("✓", "✗", "?")]
    assert marks
    assert set(marks) == {"✓"}


# -- the grader: revealed, changed after, explanations --------------------------------------------------


def submission(tmp_path: Path, answers: bytes, reveals: dict[str, object] | None) -> collect.Submission:
    """A student's folder entry (a whole clone), read by the grader's collector."""
    entry = tmp_path / "amy"
    folder = entry / "exercises" / SAFETY.id
    folder.mkdir(parents=True)
    (folder / "answers.toml").write_bytes(answers)
    if reveals is not None:
        (entry / ".dbkata").mkdir()
        (entry / learning.REVEALS).write_text(json.dumps(reveals))
    return collect.load(entry, CATALOG)


REFERENCE = (CATALOG.solution_dir(SAFETY) / "answers.toml").read_bytes()
RUN = ExerciseRun(Status.OK)


@pytest.mark.parametrize(
    ("reveals", "submitted", "says"),
    [
        (None, REFERENCE, learning.NOT_REVEALED),  # no .dbkata at all
        ({"level1/ex01_lifecycle": {"answers_sha256": "0" * 64}}, REFERENCE, learning.NOT_REVEALED),
        ({SAFETY.id: {"answers_sha256": learning.fingerprint(REFERENCE)}}, REFERENCE, learning.UNCHANGED),
        ({SAFETY.id: {"answers_sha256": learning.fingerprint(b"before")}}, REFERENCE, learning.CHANGED),
        ({SAFETY.id: "not an object"}, REFERENCE, learning.NOT_REVEALED),  # malformed: nothing revealed
    ],
)
def test_the_grader_tells_whether_answers_changed_after_the_reveal(
    reveals: dict[str, object] | None, submitted: bytes, says: str, tmp_path: Path
) -> None:
    sub = submission(tmp_path, submitted, reveals)
    run = with_learning(RUN, CATALOG, SAFETY, sub)
    assert run.learning is not None
    assert run.learning.revealed == says
    assert ExerciseRun.from_json(json.loads(json.dumps(run.to_json()))) == run  # kept in the record


def test_a_malformed_reveals_file_is_not_a_reveal(tmp_path: Path) -> None:
    entry = tmp_path / "bob.zip"
    with zipfile.ZipFile(entry, "w") as zf:
        zf.writestr(f"book/exercises/{SAFETY.id}/answers.toml", REFERENCE)
        zf.writestr("book/.dbkata/reveals.json", "{not json")
    sub = collect.load(entry, CATALOG)
    assert sub.reveals == b"{not json"
    assert with_learning(RUN, CATALOG, SAFETY, sub).learning.revealed == learning.NOT_REVEALED  # type: ignore[union-attr]


def test_the_reveal_never_changes_points(tmp_path: Path) -> None:
    tests = ()
    plain = score_exercise(SAFETY, replace(RUN, tests=tests))
    sub = submission(tmp_path, REFERENCE, {SAFETY.id: {"answers_sha256": learning.fingerprint(b"x")}})
    revealed = score_exercise(SAFETY, with_learning(replace(RUN, tests=tests), CATALOG, SAFETY, sub))
    assert [t.score for t in revealed.tasks] == [t.score for t in plain.tasks]
    assert revealed.learning is not None
    assert revealed.learning.revealed == learning.CHANGED


def test_explanations_land_in_the_ta_worksheet_with_question_rubric_and_text(tmp_path: Path) -> None:
    text = REFERENCE.replace(b'explain = """An expired', b'explain = """Amy: an expired')
    sub = submission(tmp_path, text, {SAFETY.id: {"answers_sha256": learning.fingerprint(text)}})
    record = GradingRecord("amy", sub.fingerprint(), exercises={SAFETY.id: with_learning(RUN, CATALOG, SAFETY, sub)})
    rows = list(csv.reader(io.StringIO(ta_worksheet([score_student("amy", [SAFETY], record)]))))
    assert rows[0] == [
        "student",
        "exercise",
        "task",
        "points",
        "rubric",
        "question",
        "answer",
        "revealed",
        "score",
        "comment",
    ]
    (row,) = rows[1:]
    assert row[:4] == ["amy", SAFETY.id, "4", "2"]
    assert row[4] == SAFETY.tasks[3].manual
    assert row[5] == "4. Explain: what is the difference between an expired attribute and one that was never loaded?"
    assert row[6].startswith("Amy: an expired attribute was loaded")
    assert "MissingGreenlet" in row[6]
    assert row[7:] == [learning.UNCHANGED, "", ""]


def test_an_unanswered_explanation_leaves_an_empty_answer_cell(tmp_path: Path) -> None:
    sub = submission(tmp_path, b'explain = ""\n', None)
    (said,) = with_learning(RUN, CATALOG, SAFETY, sub).learning.explanations  # type: ignore[union-attr]
    assert (said.task, said.answer) == (4, "")
