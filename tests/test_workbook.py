"""The workbook verifies itself: every exercise's solution, starter and variants behave as declared."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from dbkata.answers import ANSWERS
from dbkata.catalog import ExerciseSpec, load_catalog
from dbkata.selfcheck import Mode, Verdict, selfcheck_exercise
from dbkata.server import EmbeddedServer

ROOT = Path(__file__).parents[1]
CATALOG = load_catalog(ROOT)


def test_manifest_lists_every_exercise_folder() -> None:
    listed = {spec.id for spec in CATALOG.exercises}
    folders = {f"{p.parent.name}/{p.name}" for p in (ROOT / "exercises").glob("level*/ex*") if p.is_dir()}
    assert folders == listed


@pytest.fixture(scope="module")
def shared_server() -> Iterator[None]:
    """Hold the embedded server for the module, so each self-check subprocess attaches in milliseconds."""
    server = EmbeddedServer()
    server.acquire()
    yield
    server.release()


# A predict exercise with no code (answers.toml only) runs in-process only, graded or not: its self-check as
# graded is the long scenario's, run there (CI runs it); the default run keeps every exercise with code.
WITH_CODE = [spec for spec in CATALOG.exercises if spec.editable != (ANSWERS,)]


@pytest.fixture(scope="module")
def as_graded(request: pytest.FixtureRequest, shared_server: None) -> Iterator[dict[str, Future[list[Verdict]]]]:
    """Every exercise self-checked as graded, two exercises at a time (each runs its targets 4 at a time).

    Most of a self-check's time is spent waiting (processes starting, locks held until nothing moves),
    so two exercises side by side take about half the time on 2 cores; the outcomes are load-independent
    by design, which this also exercises.
    """
    chosen = {
        item.callspec.params["spec"].id
        for item in request.session.items
        if item.originalname == "test_exercise_selfcheck_as_graded" and isinstance(item, pytest.Function)
    }
    with ThreadPoolExecutor(2) as pool:
        yield {
            spec.id: pool.submit(selfcheck_exercise, CATALOG, spec, modes=frozenset({Mode.SPLIT}))
            for spec in WITH_CODE
            if spec.id in chosen
        }


@pytest.mark.parametrize("spec", WITH_CODE, ids=lambda s: s.id)
def test_exercise_selfcheck_as_graded(spec: ExerciseSpec, as_graded: dict[str, Future[list[Verdict]]]) -> None:
    """Every expectation, judged on runs made as the grader makes them (the code in an app process)."""
    violations = [v.line() for v in as_graded[spec.id].result() if not v.ok]
    assert violations == []


@pytest.mark.slow
@pytest.mark.parametrize("spec", CATALOG.exercises, ids=lambda s: s.id)
def test_exercise_selfcheck_in_both_modes(spec: ExerciseSpec, shared_server: None) -> None:
    """What `dbkata selfcheck` does: judged in-process (a student's run), and the graded mode must agree."""
    violations = [v.line() for v in selfcheck_exercise(CATALOG, spec) if not v.ok]
    assert violations == []


def test_student_guide_lists_every_exercise() -> None:
    readme = (ROOT / "docs" / "student.md").read_text()
    missing = [spec.id for spec in CATALOG.exercises if f"| `{spec.id}` | {spec.title} |" not in readme]
    assert missing == []
