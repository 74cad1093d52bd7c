"""grade.py's subcommands and its refusals."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
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


def test_progress_is_a_redrawn_bar_on_a_terminal_and_plain_lines_otherwise() -> None:
    for tty in (True, False):
        stream = io.StringIO()
        progress = Progress(2, stream, tty=tty)
        progress.start("amy")
        progress.start("bo")
        progress.finish("amy", "9/9 (graded)", ok=True)
        progress.finish("bo", "1/9 (graded with errors)", ok=False)
        progress.close()
        text = stream.getvalue()
        if tty:
            assert "\r\x1b[K[###############---------------] 1/2 done · 1 running · 0 failed" in text
            assert "2/2 done · 0 running · 1 failed" in text
        else:
            assert text.splitlines() == [
                "[1/2] amy: 9/9 (graded)",
                "[2/2] bo: 1/9 (graded with errors)",
                "graded 2 of 2 student(s), 1 with problems",
            ]
