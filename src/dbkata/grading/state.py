"""The grader's state in the output folder: one record per student, written atomically, and batch.json.

Everything the outputs are made of lives here, so outputs are a pure function of this folder: a run that
was killed and resumed, a single run and merged shards all end with the same files.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dbkata.catalog import Catalog, ExerciseSpec, Task
from dbkata.grading.record import GradingRecord

STATE_VERSION = 2
RECORDS = "records"
BATCH = "batch.json"
_SKIP_PARTS = {"__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache"}


def workbook_fingerprint(catalog: Catalog) -> str:
    """A hash of everything that decides a grade: the manifest, exercises, checks, variants, solutions."""
    digest = hashlib.sha256(f"state {STATE_VERSION}\n".encode())
    digest.update((catalog.root / "exercises.toml").read_bytes())
    for spec in catalog.exercises:
        for folder in (catalog.exercise_dir(spec), catalog.checks_dir(spec), catalog.solution_dir(spec)):
            for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
                if path.is_file() and not _SKIP_PARTS & set(path.parts) and path.suffix != ".pyc":
                    digest.update(path.relative_to(catalog.root).as_posix().encode() + b"\0")
                    digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def batch_info(catalog: Catalog, settings: dict[str, Any], warnings: tuple[str, ...] = ()) -> dict[str, Any]:
    """What batch.json holds: the workbook's fingerprint, its exercises, the run settings, and warnings."""
    return {
        "version": STATE_VERSION,
        "workbook": workbook_fingerprint(catalog),
        "settings": settings,
        "warnings": list(warnings),
        "exercises": [spec_to_json(s) for s in catalog.exercises],
    }


def spec_to_json(spec: ExerciseSpec) -> dict[str, Any]:
    """A manifest entry as plain data (so outputs can be rebuilt without the workbook)."""
    return {
        "id": spec.id,
        "title": spec.title,
        "editable": list(spec.editable),
        "tasks": [asdict(t) for t in spec.tasks],
    }


def spec_from_json(data: dict[str, Any]) -> ExerciseSpec:
    """The inverse of :func:`spec_to_json`."""
    tasks = tuple(
        Task(int(t["number"]), float(t["points"]), t.get("student_test"), t.get("manual")) for t in data["tasks"]
    )
    return ExerciseSpec(str(data["id"]), str(data["title"]), tuple(data["editable"]), tasks)


def settings_key(settings: dict[str, Any]) -> str:
    """A short hash of the settings that change results (time limits and so on)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file in the same folder, then rename): a kill never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1, sort_keys=True, ensure_ascii=False)
        fh.write("\n")
    os.replace(tmp, path)


def write_text(path: Path, text: str) -> None:
    """Write a text output atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", newline="") as fh:
        fh.write(text)
    os.replace(tmp, path)


def read_batch(out: Path) -> dict[str, Any] | None:
    """batch.json of an output folder, if there is one."""
    try:
        data = json.loads((out / BATCH).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("version") == STATE_VERSION else None


def record_path(out: Path, student: str) -> Path:
    """Where one student's record lives."""
    return out / RECORDS / f"{student}.json"


def read_record(out: Path, student: str) -> GradingRecord | None:
    """One student's record, or None if absent, unreadable or of another version (then graded again)."""
    try:
        return GradingRecord.from_json(json.loads(record_path(out, student).read_text()))
    except (OSError, ValueError):
        return None


def write_record(out: Path, record: GradingRecord) -> None:
    """Store one student's record atomically."""
    write_json(record_path(out, record.student), record.to_json())


def read_records(out: Path) -> dict[str, GradingRecord]:
    """Every student's record in an output folder, by student id."""
    folder = out / RECORDS
    records = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        record = read_record(out, path.stem)
        if record is not None:
            records[path.stem] = record
    return records
