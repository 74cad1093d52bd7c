"""The self-check catches free points: a check the starter passes unmarked, a starter test that earns points."""

from __future__ import annotations

import shutil
from pathlib import Path

from dbkata.catalog import load_catalog
from dbkata.selfcheck import Verdict, selfcheck_exercise
from tests.grading.conftest import WORKBOOK

TALLY = "level2/ex01_tally"


def _violations(verdicts: list[Verdict]) -> dict[str, str]:
    return {f"{v.target}: {v.expectation}": v.detail for v in verdicts if not v.ok}


def test_an_unmarked_check_the_starter_passes_and_a_starter_test_that_scores_are_violations(tmp_path: Path) -> None:
    root = tmp_path / "workbook"
    shutil.copytree(WORKBOOK, root)
    check = root / "checks" / TALLY / "check_tally.py"
    check.write_text(check.read_text().replace("@pytest.mark.guard\n", ""))  # the guard loses its mark
    shutil.copyfile(root / "solutions" / TALLY / "test_mine.py", root / "exercises" / TALLY / "test_mine.py")
    catalog = load_catalog(root)
    found = _violations(selfcheck_exercise(catalog, catalog.get(TALLY)))
    assert found == {  # and nothing else: every other expectation holds
        "check check_tally.py::test_double_stays_a_plain_function: fails on the starter or at least one known-bad "
        "variant": "",
        "starter: fails every test and check that is not a guard": (
            "passes (mark it guard, or make it need a change): check_tally.py::test_double_stays_a_plain_function"
        ),
        "starter: scores 0 on every task": (
            "task 1: 0.4 (1 of 5 checks passed); task 3: 2 (passes on the reference solution and 1 other "
            "correct version(s) and catches 3 of 3 flawed versions)"
        ),
    }
