"""``dbkata release``: the student distribution holds no hidden material, and works on its own in a fresh venv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from dbkata.catalog import load_catalog
from dbkata.release import ReleaseError, build_release, hidden_material

ROOT = Path(__file__).resolve().parents[1]
CATALOG = load_catalog(ROOT)


def _texts(tree: Path) -> dict[str, str]:
    return {str(p.relative_to(tree)): p.read_text(errors="replace") for p in tree.rglob("*") if p.is_file()}


def _distinctive_lines(hidden: Path, public: set[str]) -> set[str]:
    """Lines of a hidden tree's files that no exercise file has (its reference code, its check source)."""
    lines = set()
    for path in hidden.rglob("*.py"):
        if "__pycache__" not in path.parts:
            lines |= {line.strip() for line in path.read_text().splitlines() if len(line.strip()) > 24}
    return lines - public


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rel") / "workbook"
    build_release(CATALOG, out)
    return out


def test_release_holds_no_solution_check_or_variant(release: Path) -> None:
    for name in ("solutions", "checks", "examples", "tests", ".git", "grade.py"):
        assert not (release / name).exists(), name
    parts = {part for p in release.rglob("*") for part in p.relative_to(release).parts}
    assert not parts & {"variants", "__pycache__", "checks", "solutions"}
    assert not [p for p in release.rglob("*") if p.suffix in (".pyc", ".pyo")]
    public = {  # the library's own code is public: a line it shares with a check is no leak
        line.strip()
        for tree in ("exercises", "src")
        for text in _texts(ROOT / tree).values()
        for line in text.splitlines()
    }
    secret = _distinctive_lines(ROOT / "solutions", public) | _distinctive_lines(ROOT / "checks", public)
    assert len(secret) > 100  # the comparison below has something to find
    leaked = {
        (name, line.strip())
        for name, text in _texts(release).items()
        for line in text.splitlines()
        if line.strip() in secret
    }
    assert not leaked
    for spec in CATALOG.exercises:
        assert (release / "exercises" / spec.id / "README.md").is_file()
        for name in spec.editable:
            assert (release / ".dbkata" / "starter" / spec.id / name).read_bytes() == (
                CATALOG.exercise_dir(spec) / name
            ).read_bytes()
    assert hidden_material(CATALOG, release) == []


def test_a_planted_check_or_solution_is_found(release: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(release, copy)
    check = CATALOG.checks_dir(CATALOG.get("level2/ex05_lost_update")) / "check_concurrent_withdrawals.py"
    shutil.copyfile(check, copy / "exercises" / "level2" / "ex05_lost_update" / "notes.txt")
    solution = CATALOG.solution_dir(CATALOG.get("level2/ex05_lost_update")) / "service.py"
    shutil.copyfile(solution, copy / "exercises" / "level2" / "ex05_lost_update" / "service.py")
    (copy / "src" / "dbkata" / "x.pyc").write_bytes(b"\0")
    found = hidden_material(CATALOG, copy)
    assert found == [
        "src/dbkata/x.pyc: compiled code must not be in a release",
        "exercises/level2/ex05_lost_update/notes.txt has the content of "
        "checks/level2/ex05_lost_update/check_concurrent_withdrawals.py",
        "exercises/level2/ex05_lost_update/service.py has the content of solutions/level2/ex05_lost_update/service.py",
    ]


def test_with_solutions_adds_only_the_solutions(tmp_path: Path) -> None:
    out = tmp_path / "after-deadline"
    summary = build_release(CATALOG, out, with_solutions=True)
    assert "with solutions" in summary.line()
    assert (out / "solutions" / "level2" / "ex05_lost_update" / "service.py").is_file()
    assert not (out / "checks").exists()
    assert hidden_material(CATALOG, out, with_solutions=True) == []
    with pytest.raises(ReleaseError, match="already exists"):
        build_release(CATALOG, out)


def test_the_release_installs_and_runs_in_a_fresh_venv(release: Path, tmp_path: Path) -> None:
    """The student's path: `pip install -e .`, then `pytest exercises/...` shows the starter's failures."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "-e", str(release)], capture_output=True, text=True, timeout=1200
    )
    assert install.returncode == 0, install.stderr[-3000:]
    home = Path(tempfile.mkdtemp(prefix="dbkata-release-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTHONPATH")}
    env["DBKATA_HOME"] = str(home / "cluster")
    try:
        proc = subprocess.run(
            [python, "-m", "pytest", "exercises/level2/ex05_lost_update", "-q", "-p", "no:cacheprovider"],
            cwd=release,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        subprocess.run([python, "-m", "dbkata", "server", "reset"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(home, ignore_errors=True)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.splitlines()[-1].startswith("1 failed, 1 passed")
    assert "[level2/ex05_lost_update · task 1] a withdrawal is lost" in proc.stdout
    assert "error" not in proc.stdout.splitlines()[-1]
