"""Assemble a runnable tree for one exercise: pristine given files, a target's editable files, checks.

The target is any folder holding (some of) the exercise's editable files: the student's working tree,
``solutions/``, a variant, or a submission. Only the files the manifest marks editable are taken from
it; a target's own tests, conftest.py, pytest config or extra files never take part.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from dbkata.catalog import Catalog, ExerciseSpec

# The assembled tree's pytest configuration: the workbook's, never a student's.
PYTEST_CONFIG = """\
[tool.pytest.ini_options]
python_files = ["test_*.py", "check_*.py"]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "session"
asyncio_default_test_loop_scope = "session"
strict_markers = true
strict_config = true
strict_xfail = true
filterwarnings = [
    "error::sqlalchemy.exc.SAWarning",
    "ignore::UserWarning:platformdirs",
]
"""
SOURCES = ".sources"  # in a harness tree: the text of the editable modules, never importable
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "conftest.py", "variants")


def assemble(catalog: Catalog, spec: ExerciseSpec, target: Path, dest: Path) -> Path:
    """Build the tree in ``dest`` (which must not exist) and return the exercise folder inside it."""
    folder = _assemble_code(catalog, spec, target, dest)
    checks = catalog.checks_dir(spec)
    if checks.is_dir():
        shutil.copytree(checks, folder, ignore=_SKIP, dirs_exist_ok=True)
    return folder


def _assemble_code(catalog: Catalog, spec: ExerciseSpec, target: Path, dest: Path) -> Path:
    """The pristine exercise with the target's editable files, and no hidden checks."""
    dest.mkdir(parents=True)
    (dest / "pyproject.toml").write_text(PYTEST_CONFIG)
    (dest / "conftest.py").write_text('"""Assembled by dbkata: collection policy only."""\n')
    for package_dir in (dest / "exercises", dest / "exercises" / spec.level):
        package_dir.mkdir()
        (package_dir / "__init__.py").touch()
    folder = dest / "exercises" / spec.id
    shutil.copytree(catalog.exercise_dir(spec), folder, ignore=_SKIP)
    (folder / "__init__.py").touch()
    overlay_editable(spec, target, folder)
    return folder


def assemble_student_test(
    catalog: Catalog, spec: ExerciseSpec, code: Path, tests_from: Path, names: tuple[str, ...], dest: Path
) -> Path:
    """A tree of ``code`` with the student-written test files ``names`` taken from ``tests_from``.

    What a student's own test is run on: the reference, a variant or the starter as ``code``. The
    hidden checks are not in it: the test is student code, and it could import or read them.
    """
    folder = _assemble_code(catalog, spec, code, dest)
    overlay_editable(replace(spec, editable=names), tests_from, folder)
    return folder


_APP_SKIP = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".pytest_cache", "conftest.py", "variants", "test_*.py", "check_*.py", "*.md"
)


def assemble_harness(catalog: Catalog, spec: ExerciseSpec, target: Path, dest: Path) -> Path:
    """The trusted side of a graded run: pristine given files, visible tests and checks, no student code.

    The editable modules are left out entirely, so a check that tried to import the code under test
    would fail loudly instead of silently grading the starter; the target's editable data files
    (an answers file) are taken, since checks read them as data. The text of each editable module
    goes to ``SOURCES/<name>.txt``, a name no import can reach, for checks that read code as text
    (a "change one line" task compares it with the given code).
    """
    folder = assemble(catalog, spec, catalog.exercise_dir(spec), dest)
    for name in spec.editable:
        (folder / name).unlink(missing_ok=True)
    data = [n for n in spec.editable if not n.endswith(".py")]
    overlay_editable(replace(spec, editable=tuple(data)), target, folder)
    for name in spec.editable:
        source = target / name  # what the app process runs: the target's file, or the pristine one
        if not source.is_file() or source.is_symlink():
            source = catalog.exercise_dir(spec) / name
        if name.endswith(".py") and source.is_file():
            text_copy = folder / SOURCES / f"{name}.txt"
            text_copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, text_copy)
    return folder


def assemble_app(catalog: Catalog, spec: ExerciseSpec, target: Path, dest: Path) -> Path:
    """The untrusted side: the exercise's given modules and the target's editable files, nothing else.

    No checks, no visible tests, no hints: what the app process can see is an allow-list.
    """
    dest.mkdir(parents=True)
    for package_dir in (dest / "exercises", dest / "exercises" / spec.level):
        package_dir.mkdir()
        (package_dir / "__init__.py").touch()
    folder = dest / "exercises" / spec.id
    shutil.copytree(catalog.exercise_dir(spec), folder, ignore=_APP_SKIP)
    (folder / "__init__.py").touch()
    overlay_editable(spec, target, folder)
    return folder


def overlay_editable(spec: ExerciseSpec, target: Path, folder: Path) -> list[str]:
    """Copy the target's editable files over the pristine ones; return the names taken from the target."""
    taken = []
    for name in spec.editable:
        source = target / name
        if source.is_file() and not source.is_symlink():
            shutil.copyfile(source, folder / name)
            taken.append(name)
    return taken
