"""grade.py's subcommands and its refusals."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from dbkata.grading.progress import Progress
from tests.grading.conftest import WORKBOOK, grade_cmd

ECHO = "level2/ex02_echo"


def _run(*args: str | Path, workbook: Path = WORKBOOK) -> subprocess.CompletedProcess[str]:
    cmd = grade_cmd(*args)
    cmd[-1] = str(workbook)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False)


def test_selfcheck_names_each_violation_and_exits_1(tmp_path: Path) -> None:
    broken = tmp_path / "workbook"
    shutil.copytree(WORKBOOK, broken)
    starter = broken / "exercises" / ECHO / "echo.py"
    shutil.copyfile(starter, broken / "solutions" / ECHO / "echo.py")  # a "solution" that solves nothing
    proc = _run("selfcheck", "--exercise", ECHO, workbook=broken)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert re.fullmatch(r"selfcheck level2/ex02_echo: \d+ expectation\(s\), \d+ violated", lines[0])  # progress
    assert lines[1].startswith("FAIL level2/ex02_echo · solution: passes visible tests and hidden checks")
    summary = re.fullmatch(
        r"selfcheck: (\d+) of (\d+) expectations hold in 1 exercise\(s\); (\d+) violation\(s\)", lines[-1]
    )
    assert summary, lines[-1]
    held, total, bad = map(int, summary.groups())
    assert held + bad == total
    assert bad == len(lines) - 2  # a progress line, one line per violation, then the summary


def test_unknown_exercise_and_bad_shard_are_refused(tmp_path: Path) -> None:
    proc = _run(tmp_path, "--out", tmp_path / "out", "--exercise", "level2/ex99_nope")
    assert proc.returncode == 2
    assert "no exercise 'level2/ex99_nope'" in proc.stderr
    proc = _run(tmp_path, "--out", tmp_path / "out", "--shard", "3/2")
    assert proc.returncode == 2
    assert "use K/N with 1 <= K <= N" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_merge_refuses_a_folder_that_is_not_an_output(tmp_path: Path) -> None:
    proc = _run("merge", tmp_path, "--out", tmp_path / "m")
    assert proc.returncode == 2
    assert "not a grade.py output folder" in proc.stderr


def test_gradescope_run_autograder_writes_results_json(tmp_path: Path) -> None:
    root = tmp_path / "autograder"
    echo = root / "submission" / "exercises" / ECHO / "echo.py"  # a student's upload: their whole clone
    echo.parent.mkdir(parents=True)
    shutil.copyfile(WORKBOOK / "solutions" / ECHO / "echo.py", echo)
    script = Path(__file__).resolve().parents[2] / "examples" / "gradescope" / "run_autograder.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--root", str(root), "--workbook", str(WORKBOOK), "--", "--exercise", ECHO],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 2
    assert [t["name"] for t in results["tests"]] == [
        "level2/ex01_tally · task 1",
        "level2/ex01_tally · task 2",
        "level2/ex01_tally · task 3",
        "level2/ex02_echo · task 1",
    ]


class FakeClock:
    """Time that moves only when told: progress text is then the same on every machine."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_is_a_redrawn_bar_on_a_terminal_and_plain_lines_otherwise() -> None:
    for tty in (True, False):
        stream, clock = io.StringIO(), FakeClock()
        progress = Progress(stream=stream, tty=tty, clock=clock, ticker=False)
        progress.begin(2, jobs=2)
        progress.start("amy")
        progress.start("bo")
        clock.now += 30
        progress.finish("amy", "9/9 (graded)", ok=True)
        clock.now += 45
        progress.finish("bo", "1/9 (graded with errors)", ok=False)
        progress.close()
        text = stream.getvalue()
        if tty:
            assert "\r\x1b[K[------------------------------] 0/2 done · 0 running · 0 failed · 0:00 elapsed" in text
            assert (
                "[------------------------------] 0/2 done · 2 running · 0 failed · 0:00 elapsed · ETA estimating"
                in text
            )
            assert (
                "\r\x1b[K[###############---------------] 1/2 done · 1 running · 0 failed · 0:30 elapsed · ETA 0:30"
                in text
            )
            assert "2/2 done · 0 running · 1 failed · 1:15 elapsed · ETA 0:00" in text
            assert text.endswith("\ngraded 2 of 2 student(s), 1 with problems, in 1:15\n")
        else:
            assert text.splitlines() == [
                "grading 2 student(s), 2 at a time",
                "[1/2] amy: 9/9 (graded) · 1 running · 0 failed · 0:30 elapsed · ETA 0:30",
                "[2/2] bo: 1/9 (graded with errors) · 0 running · 1 failed · 1:15 elapsed · ETA 0:00",
                "graded 2 of 2 student(s), 1 with problems, in 1:15",
            ]


def test_plain_progress_says_it_is_still_grading_when_nothing_finishes_for_a_while() -> None:
    stream, clock = io.StringIO(), FakeClock()
    progress = Progress(stream=stream, tty=False, clock=clock, heartbeat=60, ticker=False)
    progress.begin(3, jobs=1)
    progress.start("amy")
    clock.now += 59
    progress._tick_once()  # not yet a minute of silence
    clock.now += 2
    progress._tick_once()
    clock.now += 10
    progress._tick_once()  # 10 s after the last line: nothing new
    assert stream.getvalue().splitlines() == [
        "grading 3 student(s), 1 at a time",
        "… still grading: 0/3 done · 1 running · 0 failed · 1:01 elapsed · ETA estimating",
    ]


def test_a_terminal_bar_is_redrawn_every_second_while_a_student_runs() -> None:
    stream = io.StringIO()
    progress = Progress(stream=stream, tty=True, refresh=0.05)
    progress.begin(1, jobs=1)
    progress.start("amy")
    deadline = time.monotonic() + 60
    while stream.getvalue().count("\r") < 6 and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for redraws to appear, not timing them
    progress.finish("amy", "ok", ok=True)
    progress.close()
    assert stream.getvalue().count("0/1 done · 1 running") >= 3  # redrawn with nothing else happening


def test_a_missing_submissions_folder_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    proc = _run(tmp_path / "nope", "--out", tmp_path / "out")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"grade.py: no submissions folder at {tmp_path / 'nope'} "
        "(give the folder that holds one folder, .zip or .tar.gz per student)"
    ]
    assert not (tmp_path / "out").exists()
