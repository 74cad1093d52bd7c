"""The student verbs on a release built by ``dbkata release``: status, reset, solution, check-my-test."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dbkata.cli import main

ROOT = Path(__file__).resolve().parents[1]
EX05, EX01 = "level2/ex05_lost_update", "level2/ex01_leaky_dependency"
WEAK_TEST = """import pytest

pytestmark = pytest.mark.task(2)


async def test_nothing_useful() -> None:
    assert 1 + 1 == 2
"""


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("verbs") / "workbook"
    assert main(["release", str(out), "--with-solutions", "--workbook", str(ROOT)]) == 0
    return out


def _run(book: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "dbkata"), *args],
        cwd=book,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _pytest(book: Path, exercise: str) -> None:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"exercises/{exercise}"]
    subprocess.run(command, cwd=book, capture_output=True, timeout=600, check=False)


def test_status_solution_and_reset_follow_the_students_runs(release: Path) -> None:
    status = _run(release, "status").stdout
    assert f"  {EX05}            task 1 ?  0/3 points  (not run yet)" in status.splitlines()
    assert f"Next: exercises/{EX01}/README.md, task 1" in status
    _pytest(release, EX05)  # the starter: its test fails
    assert f"  {EX05}            task 1 ✗  0/3 points" in _run(release, "status").stdout.splitlines()
    refused = _run(release, "solution", EX05)
    assert refused.returncode == 1
    assert refused.stdout.startswith(f"{EX05}: not yet. In your last run, still failing: test_withdraw.py::")
    mine = release / "exercises" / EX05 / "service.py"
    starter = mine.read_bytes()
    shutil.copyfile(release / "solutions" / EX05 / "service.py", mine)
    _pytest(release, EX05)
    assert f"  {EX05}            task 1 ✓  3/3 points" in _run(release, "status").stdout.splitlines()
    shown = _run(release, "solution", EX05)
    assert shown.returncode == 0
    assert f"=== solutions/{EX05}/service.py ===" in shown.stdout
    assert "=== yours against the reference: service.py ===\n(identical)" in shown.stdout
    mine.write_text(mine.read_text() + "# my note\n")
    reset = _run(release, "reset", EX05)
    assert reset.stdout == (
        f"{EX05}: service.py restored to the starter (from .dbkata/starter/{EX05}/)\n"
        f"your version is kept in .dbkata/backups/{EX05}/1/ (copy a file back from there to undo)\n"
    )
    assert mine.read_bytes() == starter
    assert (release / ".dbkata" / "backups" / EX05 / "1" / "service.py").read_text().endswith("# my note\n")
    assert f"{EX05}            task 1 ?" in _run(release, "status").stdout  # its last results are gone
    again = _run(release, "reset", EX05)
    assert again.stdout == f"{EX05}: service.py already as in the starter; nothing to reset\n"
    unknown = _run(release, "reset", "level2/ex99_nothing")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("dbkata: no exercise 'level2/ex99_nothing' in exercises.toml; known ids: ")


def test_solution_is_absent_from_a_release_without_solutions(tmp_path: Path) -> None:
    out = tmp_path / "plain"
    assert main(["release", str(out), "--workbook", str(ROOT)]) == 0
    refused = _run(out, "solution", EX05)
    assert refused.returncode == 2
    assert "solutions are not in this copy of the workbook" in refused.stderr


def test_check_my_test_judges_a_good_and_a_weak_test(release: Path) -> None:
    mine = release / "exercises" / EX01 / "test_leak.py"
    shutil.copyfile(release / "solutions" / EX01 / "test_leak.py", mine)
    good = _run(release, "check-my-test", EX01)
    assert good.returncode == 0, good.stdout + good.stderr
    lines = good.stdout.splitlines()
    assert lines[1].startswith("  on the reference solution: passed: ok, it must pass")
    assert lines[2].startswith("  on the starter code: failed (test_a")
    assert ": ok, it should fail on the starter code" in lines[2]
    mine.write_text(WEAK_TEST)
    weak = _run(release, "check-my-test", EX01)
    assert weak.returncode == 1
    lines = weak.stdout.splitlines()
    assert lines[1].startswith("  on the reference solution: passed: ok")
    assert lines[2].startswith("  on the starter code: passed: NOT AS GRADED, it should fail on the starter code")
    none = _run(release, "check-my-test", EX05)
    assert none.returncode == 2
    assert none.stderr == (
        f"dbkata: {EX05} has no task graded by a test you write; the exercises that have one: "
        f"{EX01}, level2/ex02_dashboard_n_plus_one\n"
    )
