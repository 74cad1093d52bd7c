"""The one ``dbkata`` command, and its two front ends (grade.py, python -m dbkata)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dbkata.cli import _subcommands, build_parser, main, with_default_command

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {"grade", "merge", "selfcheck", "compare", "release", "server"}


@pytest.mark.parametrize(
    "front", [[sys.executable, str(ROOT / "grade.py")], [sys.executable, "-m", "dbkata"], ["dbkata"]]
)
def test_help_lists_every_subcommand(front: list[str]) -> None:
    proc = subprocess.run([*front, "--help"], capture_output=True, text=True, timeout=60, check=True, cwd=ROOT)
    listed = {line.split()[0] for line in proc.stdout.splitlines() if line.startswith("    ") and line.split()}
    assert set(_subcommands(build_parser())) <= listed
    assert listed >= COMMANDS


def test_grade_is_the_default_only_for_a_non_command() -> None:
    assert with_default_command(["subs", "--out", "x"], "grade") == ["grade", "subs", "--out", "x"]
    assert with_default_command(["merge", "a", "--out", "x"], "grade") == ["merge", "a", "--out", "x"]
    assert with_default_command(["--help"], "grade") == ["--help"]


def test_outside_a_workbook_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["selfcheck"]) == 2
    assert capsys.readouterr().err == (
        f"dbkata: no exercises.toml in {tmp_path} or above: run dbkata inside the workbook (the folder you installed)\n"
    )
    monkeypatch.setenv("DBKATA_HOME", str(tmp_path / "cluster"))
    assert main(["server", "status"]) == 0  # the server needs no workbook
    assert capsys.readouterr().out == f"absent: {tmp_path / 'cluster'} (created on the next run)\n"


def test_release_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["release", str(tmp_path / "out"), "--workbook", str(ROOT)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"release written to {tmp_path / 'out'}: ")
    assert line.endswith("without solutions; no hidden checks, variants or history (verified)")
    assert main(["release", str(tmp_path / "out"), "--workbook", str(ROOT)]) == 2
    assert capsys.readouterr().err == f"dbkata: {tmp_path / 'out'} already exists: give a new folder\n"


def test_hint_shows_one_hint_at_a_time_and_remembers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "book"
    for name in ("exercises.toml", "exercises/level2/ex05_lost_update"):
        source = ROOT / name
        (book / name).parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, book / name)
        else:
            shutil.copyfile(source, book / name)
    manifest = (book / "exercises.toml").read_text()
    keep = manifest.split("[[exercise]]")
    (book / "exercises.toml").write_text(keep[0] + "[[exercise]]" + next(k for k in keep if "ex05_lost_update" in k))
    args = ["hint", "level2/ex05_lost_update", "--workbook", str(book)]
    outputs = []
    for _ in range(5):
        assert main(args) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0].startswith("level2/ex05_lost_update · task 1, hint 1 of 4:\n- Draw the two transactions")
    assert outputs[1].startswith("level2/ex05_lost_update · task 1, hint 2 of 4:\n- `session.refresh()`")
    assert "hint 3 of 4:\n- Three ways to close it" in outputs[2]
    assert "  - lock the row when you read it" in outputs[2]  # a nested bullet stays with its hint
    assert "hint 4 of 4:" in outputs[3]
    assert outputs[4] == (
        "level2/ex05_lost_update · task 1: all 4 hint(s) shown; "
        'they are in exercises/level2/ex05_lost_update/HINTS.md, "1."\n'
    )
    assert main(["hint", "level2/ex05_lost_update", "2", "--workbook", str(book)]) == 2
    assert capsys.readouterr().err == "dbkata: level2/ex05_lost_update has tasks 1 to 1, not 2\n"
