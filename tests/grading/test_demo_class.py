"""The demo class in examples/submissions grades as its README says, on the real workbook."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from examples.demo_class import build as build_demo_class

from dbkata.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "submissions"
EX = "level2/ex10_refresh_collection"


@pytest.fixture(scope="module")
def demo_grades(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    base = tmp_path_factory.mktemp("demo")
    subs, out = base / "submissions", base / "grades"
    build_demo_class(subs)
    twin = subs / "dee-twin" / "exercises" / EX  # dee without the cheating: only her repo.py
    twin.mkdir(parents=True)
    shutil.copyfile(DEMO / "dee" / "exercises" / EX / "repo.py", twin / "repo.py")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "grade.py"), str(subs), "--out", str(out), "--jobs", "2", "--exercise", EX],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # No --timeout: the limits were calibrated from the reference, which earned full marks in the sandbox.
    assert "calibrated: the reference took " in proc.stderr
    assert list(json.loads((out / "calibration.json").read_text())["runs"]) == [EX]
    with open(out / "grades.csv", newline="") as fh:
        return {row["student"]: row for row in csv.DictReader(fh)}


def test_demo_class_on_the_refresh_exercise(demo_grades: dict[str, dict[str, str]]) -> None:
    points = load_catalog(ROOT).get(EX).points
    ex10 = {student: float(row[EX]) for student, row in demo_grades.items()}
    assert sorted(ex10) == ["ada", "ben", "cy", "dee", "dee-twin"], demo_grades
    assert ex10["ada"] == points, ex10
    assert 0 < ex10["ben"] < points  # one flaw left
    assert ex10["cy"] < ex10["ben"]  # broken code
    assert ex10["dee"] == ex10["dee-twin"] < points  # the cheating changed nothing
    # only ex10 was graded, so every student's other exercises are still to do
    assert {row["status"] for row in demo_grades.values()} == {"incomplete"}, demo_grades
