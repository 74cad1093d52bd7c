"""The ordered manifest of exercises (``exercises.toml``): ids, titles, points per task, editable files."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "exercises.toml"
FORMAT_VERSION = 1
_ID_RE = re.compile(r"^level[1-5]/ex\d\d_[a-z0-9_]+$")


class CatalogError(ValueError):
    """The manifest or the tree disagrees with itself; the message names the entry and the fix."""


@dataclass(frozen=True)
class Task:
    """One README task: its points and how it is graded."""

    number: int
    points: float
    student_test: str | None = None  # graded by running the student's own test file against variants
    manual: str | None = None  # graded by a person, with this rubric

    @property
    def automatic(self) -> bool:
        """Whether checks (not a person) grade this task."""
        return self.manual is None


@dataclass(frozen=True)
class ExerciseSpec:
    """One manifest entry."""

    id: str
    title: str
    editable: tuple[str, ...]
    tasks: tuple[Task, ...]

    @property
    def level(self) -> str:
        return self.id.split("/")[0]

    @property
    def slug(self) -> str:
        return self.id.split("/")[1]

    @property
    def package(self) -> str:
        """The Python package the exercise's code lives in, in the repo and in assembled trees."""
        return "exercises." + self.id.replace("/", ".")

    @property
    def points(self) -> float:
        return sum(t.points for t in self.tasks)

    def task(self, number: int) -> Task:
        """The task with this number."""
        return self.tasks[number - 1]


@dataclass(frozen=True)
class Catalog:
    """The workbook: its root folder and its exercises in teaching order."""

    root: Path
    exercises: tuple[ExerciseSpec, ...]

    def get(self, exercise_id: str) -> ExerciseSpec:
        """The entry with this id; a clear error listing the ids otherwise."""
        for spec in self.exercises:
            if spec.id == exercise_id:
                return spec
        known = ", ".join(s.id for s in self.exercises) or "(none)"
        raise CatalogError(f"no exercise {exercise_id!r} in {MANIFEST}; known ids: {known}")

    def exercise_dir(self, spec: ExerciseSpec) -> Path:
        return self.root / "exercises" / spec.id

    def solution_dir(self, spec: ExerciseSpec) -> Path:
        return self.root / "solutions" / spec.id

    def checks_dir(self, spec: ExerciseSpec) -> Path:
        return self.root / "checks" / spec.id

    def variants(self, spec: ExerciseSpec) -> list[Path]:
        """Known-bad (``bad_*``) and alternative-correct (``good_*``) variants of the editable files."""
        folder = self.checks_dir(spec) / "variants"
        return (
            sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith(("bad_", "good_")))
            if folder.is_dir()
            else []
        )


def load_catalog(root: Path) -> Catalog:
    """Read and validate ``exercises.toml`` under ``root``."""
    path = root / MANIFEST
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"cannot read {path}: {exc}") from exc
    if data.get("format_version") != FORMAT_VERSION:
        raise CatalogError(f"{path}: format_version must be {FORMAT_VERSION}")
    specs = tuple(_parse_entry(entry, path) for entry in data.get("exercise", []))
    ids = [s.id for s in specs]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise CatalogError(f"{path}: duplicate exercise ids {dupes}")
    catalog = Catalog(root.resolve(), specs)
    for spec in specs:
        _check_tree(catalog, spec)
    return catalog


def _parse_entry(entry: dict[str, object], path: Path) -> ExerciseSpec:
    ex_id = str(entry.get("id", ""))
    if not _ID_RE.match(ex_id):
        raise CatalogError(f"{path}: id {ex_id!r} must look like 'level2/ex01_topic_name'")
    raw_tasks = entry.get("tasks")
    if not isinstance(raw_tasks, list) or not raw_tasks:
        raise CatalogError(f"{path}: {ex_id} needs tasks = [{{ points = N }}, ...] (one per README task)")
    tasks = tuple(
        Task(n, float(t["points"]), t.get("student_test"), t.get("manual")) for n, t in enumerate(raw_tasks, start=1)
    )
    editable = entry.get("editable", [])
    if not isinstance(editable, list) or not all(isinstance(e, str) for e in editable):
        raise CatalogError(f"{path}: {ex_id}: editable must be a list of file names")
    return ExerciseSpec(ex_id, str(entry.get("title", ex_id)), tuple(editable), tasks)


def _check_tree(catalog: Catalog, spec: ExerciseSpec) -> None:
    folder = catalog.exercise_dir(spec)
    if not folder.is_dir():
        raise CatalogError(f"{MANIFEST}: {spec.id} has no folder {folder}")
    for name in spec.editable:
        if not (folder / name).is_file():
            raise CatalogError(f"{MANIFEST}: {spec.id} lists editable file {name!r}, missing from {folder}")
