"""The TA view: a graded submission next to the reference, code and database behaviour."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
EXERCISE = "level2/ex10_refresh_collection"


def test_compare_shows_the_diff_and_the_diverging_statement_counts(tmp_path: Path) -> None:
    """ben's ex10 looks each product up separately: the diff shows it, and so do the evidence columns."""
    out = tmp_path / "grades"
    graded = subprocess.run(
        [
            sys.executable,
            "grade.py",
            "examples/submissions",
            "--out",
            str(out),
            "--only",
            "ben",
            "--exercise",
            EXERCISE,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert (out / "results.json").exists(), graded.stdout + graded.stderr
    report = subprocess.run(
        [sys.executable, "-m", "dbkata", "compare", str(out), "examples/submissions/ben", "--exercise", EXERCISE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    assert "+            product = await self.session.get(Product, item.product_id)" in report
    assert "| 2 | `test_statements_do_not_grow_with_the_number_of_items` (check) | passed | failed |" in report
    assert '| statement counts: POST /orders | {"2": 3, "40": 3} | {"2": 4, "40": 42} |' in report
    assert "### `test_an_unknown_product_saves_nothing" not in report  # same outcome, same evidence: no detail


def test_compare_refuses_a_submission_that_was_not_graded(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text('{"students": []}')
    result = subprocess.run(
        [sys.executable, "-m", "dbkata", "compare", str(tmp_path), "examples/submissions/ben", "--exercise", EXERCISE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "ben is not graded" in result.stderr
    assert "--only ben" in result.stderr
