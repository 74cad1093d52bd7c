"""``dbkata release OUT``: the student distribution, and the proof that it holds no hidden material.

A release is the exercises, the ``dbkata`` package, the manifest, the docs and the collection policy.
It never holds ``checks/`` (hidden checks and known-bad variants), ``examples/`` (a demo class), the
project's own ``tests/``, version-control history or compiled files, and holds ``solutions/`` only when
asked (after the deadline). A pristine copy of every editable file goes to ``.dbkata/starter/`` so that
``dbkata reset`` works without git.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from dbkata.catalog import MANIFEST, Catalog

STARTER_DIR = Path(".dbkata") / "starter"
_ALWAYS = ("exercises", "src/dbkata", "docs", "pyproject.toml", "README.md", "BENCHMARKS.md", "conftest.py", MANIFEST)
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", "*.egg-info", ".dbkata", "variants")
_NEVER_NAMES = {"checks", "variants", ".git", "__pycache__", "examples"}
_GITIGNORE = "__pycache__/\n*.egg-info/\n.pytest_cache/\n/.venv/\n/.dbkata/*\n!/.dbkata/starter/\n"


class ReleaseError(ValueError):
    """The release could not be built, or would hold hidden material; the message names it."""


@dataclass(frozen=True)
class ReleaseSummary:
    """What a release holds."""

    out: Path
    exercises: int
    files: int
    with_solutions: bool

    def line(self) -> str:
        """One line for the terminal."""
        what = "with solutions" if self.with_solutions else "without solutions"
        return (
            f"release written to {self.out}: {self.exercises} exercise(s), {self.files} file(s), {what}; "
            "no hidden checks, variants or history (verified)"
        )


def build_release(catalog: Catalog, out: Path, *, with_solutions: bool = False) -> ReleaseSummary:
    """Write the student distribution of ``catalog`` to ``out`` (which must not exist), then verify it."""
    if out.exists():
        raise ReleaseError(f"{out} already exists: give a new folder")
    root = catalog.root
    if out.resolve().is_relative_to(root):
        raise ReleaseError(f"{out} is inside the workbook {root}: give a folder outside it")
    out.mkdir(parents=True)
    for name in _ALWAYS:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, out / name, ignore=_SKIP)
        elif source.is_file():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, out / name)
    if with_solutions and (root / "solutions").is_dir():
        shutil.copytree(root / "solutions", out / "solutions", ignore=_SKIP)
    (out / "pyproject.toml").write_text(_student_pyproject((root / "pyproject.toml").read_text()))
    (out / ".gitignore").write_text(_GITIGNORE)
    for spec in catalog.exercises:
        for name in spec.editable:
            dest = out / STARTER_DIR / spec.id / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(catalog.exercise_dir(spec) / name, dest)
    leaks = hidden_material(catalog, out, with_solutions=with_solutions)
    if leaks:
        shutil.rmtree(out)
        raise ReleaseError("the release would hold hidden material, so none was written: " + "; ".join(leaks[:5]))
    files = sum(1 for p in out.rglob("*") if p.is_file())
    return ReleaseSummary(out, len(catalog.exercises), files, with_solutions)


def _student_pyproject(text: str) -> str:
    """The workbook's config, with a bare ``pytest`` running the exercises (the release has no tests/)."""
    return re.sub(r'^testpaths = \["tests"\]$', 'testpaths = ["exercises"]', text, count=1, flags=re.M)


def hidden_material(catalog: Catalog, out: Path, *, with_solutions: bool = False) -> list[str]:
    """Every file or folder of ``out`` that carries hidden material: names, compiled code, copied content."""
    found = []
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out)
        if _NEVER_NAMES & set(rel.parts) or (rel.parts[0] == "solutions" and not with_solutions):
            found.append(f"{rel} must not be in a release")
        elif path.suffix in (".pyc", ".pyo"):
            found.append(f"{rel}: compiled code must not be in a release")
    secret = _hidden_digests(catalog, with_solutions=with_solutions)
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        if _digest(path.read_bytes()) in secret:
            found.append(f"{path.relative_to(out)} has the content of {secret[_digest(path.read_bytes())]}")
    return found


def _hidden_digests(catalog: Catalog, *, with_solutions: bool) -> dict[str, str]:
    """Digests of every hidden file (checks, variants, and solutions unless released) that no starter file shares."""
    released = ["exercises", *(["solutions"] if with_solutions else [])]
    public = {_digest(p.read_bytes()) for tree in released for p in (catalog.root / tree).rglob("*") if p.is_file()}
    trees = [catalog.root / "checks"] + ([] if with_solutions else [catalog.root / "solutions"])
    hidden = {}
    for tree in trees:
        for path in sorted(tree.rglob("*")) if tree.is_dir() else []:
            data = path.read_bytes() if path.is_file() and "__pycache__" not in path.parts else b""
            if data.strip() and _digest(data) not in public:
                hidden[_digest(data)] = str(path.relative_to(catalog.root))
    return hidden


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
