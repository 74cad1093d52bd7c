"""The workbook verifies itself: every exercise's solution, starter and variants behave as declared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dbkata.catalog import ExerciseSpec, load_catalog
from dbkata.selfcheck import Mode, selfcheck_exercise
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


@pytest.mark.parametrize("spec", CATALOG.exercises, ids=lambda s: s.id)
def test_exercise_selfcheck_as_graded(spec: ExerciseSpec, shared_server: None) -> None:
    """Every expectation, judged on runs made as the grader makes them (the code in an app process)."""
    violations = [v.line() for v in selfcheck_exercise(CATALOG, spec, modes=frozenset({Mode.SPLIT})) if not v.ok]
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
