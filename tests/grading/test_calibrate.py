"""The calibrated time limits: scaled from the reference's runs on this machine, never below the floors."""

from __future__ import annotations

import json
from pathlib import Path

from dbkata.grading import calibrate
from dbkata.grading.calibrate import Calibration

ECHO, TALLY = "level2/ex02_echo", "level2/ex01_tally"


def test_limits_are_a_multiple_of_the_reference_and_never_below_the_floors() -> None:
    cal = Calibration("wb", {ECHO: (3.2, 1.0), TALLY: (40.3, 10.0, 9.5)})
    assert calibrate.FACTOR == 5
    assert cal.timeout(ECHO, 120) == 120  # 5 x 3.2 s is below the floor
    assert cal.timeout(TALLY, 120) == 202  # 5 x the slowest run, rounded up
    assert cal.timeout("level2/ex09_other", 120) == 120  # not measured: the floor
    assert cal.submission_timeout([ECHO], 900) == 900
    assert cal.submission_timeout([ECHO, TALLY], 100) == 320  # 5 x (4.2 + 59.8)
    assert cal.missing([ECHO, "level2/ex09_other"]) == ["level2/ex09_other"]
    assert cal.summary([ECHO, TALLY], 120, 900) == (
        "calibrated: the reference took 64 s for 2 exercise(s) on this machine; "
        "limits: 120–202 s by exercise per call and per student-test run, 900 s per submission"
    )


def test_a_kept_calibration_is_reused_only_for_the_same_workbook(tmp_path: Path) -> None:
    calibrate.save(tmp_path, Calibration("wb1", {ECHO: (2.5,)}))
    saved = json.loads((tmp_path / calibrate.CALIBRATION).read_text())
    assert saved["runs"] == {ECHO: [2.5]}
    assert saved["factor"] == calibrate.FACTOR
    assert len(saved["load_average"]) == 3
    assert calibrate.load(tmp_path, "wb1") == Calibration("wb1", {ECHO: (2.5,)})
    assert calibrate.load(tmp_path, "wb2") == Calibration("wb2")  # another workbook: measured again
    (tmp_path / calibrate.CALIBRATION).write_text("{not json")
    assert calibrate.load(tmp_path, "wb1") == Calibration("wb1")
    assert calibrate.load(tmp_path / "absent", "wb1") == Calibration("wb1")
