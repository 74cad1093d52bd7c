"""A small class end to end: scores, cheating that changes nothing, kill -9 and resume, shards and merge.

The same class is graded three ways; every output file must be byte-identical between them.
"""

from __future__ import annotations

import contextlib
import csv
import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from dbkata.grading.collect import in_shard
from dbkata.grading.database import HOST_TAG
from dbkata.server import EmbeddedServer
from tests.grading.conftest import SOLVED_ECHO, WORKBOOK, grade_cmd, outputs, run_grade, submit

SOLUTIONS = WORKBOOK / "solutions" / "level2"
BUGGY_ECHO = SOLVED_ECHO.replace("select(literal(value))", 'select(literal(value.replace("\'", "")))')
FORCE_PASS = """import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
"""
# Passes on the reference, fails on the correct alternative good_core_insert (which uses no ORM session).
SPY_TEST = """import inspect

import pytest


@pytest.mark.task(3)
def test_uses_a_session(exercise) -> None:
    assert "AsyncSession" in inspect.getsource(exercise.module("tally"))
"""
# 50 passing tests marked as task 1, next to the untouched starter: never part of the code-task run.
INFLATED_TEST = "import pytest\n\n" + "".join(
    f"\n@pytest.mark.task(1)\ndef test_free_{n}() -> None:\n    pass\n" for n in range(50)
)
CLASS: dict[str, dict[str, str]] = {
    "full": {
        "level2/ex01_tally/tally.py": (SOLUTIONS / "ex01_tally" / "tally.py").read_text(),
        "level2/ex01_tally/test_mine.py": (SOLUTIONS / "ex01_tally" / "test_mine.py").read_text(),
        "level2/ex02_echo/echo.py": SOLVED_ECHO,
    },
    "twin": {"level2/ex02_echo/echo.py": BUGGY_ECHO},
    "spy": {
        "level2/ex01_tally/tally.py": (SOLUTIONS / "ex01_tally" / "tally.py").read_text(),
        "level2/ex01_tally/test_mine.py": SPY_TEST,
    },
    "inflater": {
        "level2/ex01_tally/tally.py": (WORKBOOK / "exercises" / "level2" / "ex01_tally" / "tally.py").read_text(),
        "level2/ex01_tally/test_mine.py": INFLATED_TEST,
    },
    "cheater": {
        "level2/ex02_echo/echo.py": BUGGY_ECHO,
        "level2/ex02_echo/test_echo.py": "def test_echo():\n    assert True\n",
        "level2/ex02_echo/conftest.py": FORCE_PASS,
        "level2/conftest.py": FORCE_PASS,
    },
}


def _class(base: Path) -> Path:
    subs = base / "submissions"
    for student, files in CLASS.items():
        submit(subs, student, files)
    cheater = subs / "cheater"
    (cheater / "checks" / "level2" / "ex02_echo").mkdir(parents=True)
    (cheater / "checks" / "level2" / "ex02_echo" / "check_echo.py").write_text("def test_ok():\n    pass\n")
    (cheater / "pyproject.toml").write_text("[tool.pytest.ini_options]\naddopts = '-p no:dbkata'\n")
    (cheater / "conftest.py").write_text(FORCE_PASS)
    return subs


ECHO_ONLY = ("--jobs", "2", "--timeout", "60", "--exercise", "level2/ex02_echo")


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The class graded once, every exercise."""
    base = tmp_path_factory.mktemp("batch")
    subs = _class(base)
    run_grade(subs, "--out", base / "single", "--jobs", "2", "--timeout", "60")
    return {"base": base, "subs": subs, "out": base / "single"}


@pytest.fixture(scope="module")
def echo_single(single: dict[str, Any]) -> Path:
    """The class graded once on one exercise (the reference for the resume and shard comparisons)."""
    out = single["base"] / "echo-single"
    run_grade(single["subs"], "--out", out, *ECHO_ONLY)
    return out


@contextlib.contextmanager
def server_released(server: EmbeddedServer) -> Iterator[None]:
    try:
        yield
    finally:
        server.release()


def _roles_like(pattern: str) -> list[str]:
    """Roles on the embedded server, read without cleaning anything up on the way."""
    server = EmbeddedServer()
    info = server.acquire()  # the grader stops the server when it was its last user
    with (
        server_released(server),
        psycopg.connect(
            host=info.socket_dir, port=info.port, user=info.superuser, password=info.password, dbname="postgres"
        ) as conn,
    ):
        return [str(r[0]) for r in conn.execute("select rolname from pg_roles where rolname like %s", (pattern,))]


def _grades(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="") as fh:
        return {row["student"]: row for row in csv.DictReader(fh)}


def test_scores_of_the_class(single: dict[str, Any]) -> None:
    grades = _grades(single["out"])
    assert {s: (g["level2/ex01_tally"], g["level2/ex02_echo"], g["total"], g["status"]) for s, g in grades.items()} == {
        "cheater": ("0", "1.5", "1.5", "graded"),
        "full": ("7", "2", "9", "graded"),
        "inflater": ("0", "0", "0", "graded"),  # its 50 passing tests never ran with the checks
        "spy": ("5", "0", "5", "graded"),  # its test fails on a correct alternative: task 3 earns nothing
        "twin": ("0", "1.5", "1.5", "graded"),
    }
    assert grades["full"]["level2/ex01_tally task 4 (manual)"] == ""


def test_cheating_with_tests_conftest_checks_and_config_changes_nothing(single: dict[str, Any]) -> None:
    results = json.loads((single["out"] / "results.json").read_text())
    echo = {s["student"]: s["exercises"][1] for s in results["students"]}
    assert echo["cheater"]["tasks"] == echo["twin"]["tasks"]
    assert echo["cheater"]["files"] == ["echo.py"]  # nothing but the editable file was taken


def _task(single: dict[str, Any], student: str, number: int) -> dict[str, Any]:
    results = json.loads((single["out"] / "results.json").read_text())
    task: dict[str, Any] = next(s for s in results["students"] if s["student"] == student)["exercises"][0]["tasks"]
    return task[number - 1]


def test_student_test_is_run_against_every_correct_version_then_the_starter_and_bad_variants(
    single: dict[str, Any],
) -> None:
    task3 = _task(single, "full", 3)
    assert [(i["name"], i["outcome"], i["passed"]) for i in task3["items"]] == [
        ("on the reference solution", "passed", True),
        ("on the correct version good_core_insert", "passed", True),
        (
            "on the starter code",
            "failed (test_add_items_commits, test_double)",
            True,
        ),
        ("on the flawed version bad_no_commit", "failed", True),  # hidden code: no names, nothing to spell with
        ("on the flawed version bad_off_by_one", "failed", True),
    ]
    assert task3["score"] == 2


def test_a_student_test_that_fails_on_a_correct_alternative_earns_nothing(single: dict[str, Any]) -> None:
    task3 = _task(single, "spy", 3)
    assert task3["score"] == 0
    assert task3["reason"].endswith("on the correct version good_core_insert it failed")
    feedback = (single["out"] / "feedback" / "spy.md").read_text()
    assert "- ✗ your test on the correct version good_core_insert: failed\n" in feedback
    assert "AssertionError" not in feedback  # one line per run, never the failure's message


def test_a_guard_is_in_the_results_and_earns_nothing(single: dict[str, Any]) -> None:
    task1 = _task(single, "inflater", 1)
    guards = [(i["name"], i["passed"]) for i in task1["items"] if i["guard"]]
    assert guards == [("test_double_stays_a_plain_function", True)]
    assert (task1["score"], task1["reason"]) == (0, "0 of 4 checks passed")
    assert all(i["name"].startswith(("test_double_any", "test_double_two")) for i in task1["items"] if not i["guard"])


def test_kill_minus_9_then_resume_gives_identical_outputs(single: dict[str, Any], echo_single: Path) -> None:
    out = single["base"] / "killed"
    proc = subprocess.Popen(
        grade_cmd(single["subs"], "--out", out, *ECHO_ONLY),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    records = out / "records"
    deadline = time.monotonic() + 180
    while proc.poll() is None and not list(records.glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for an event (a file appears), not timing anything
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_roles = f"dbkg\\_{HOST_TAG}\\_{proc.pid}\\_%"
    done_before = len(list(records.glob("*.json")))
    assert 1 <= done_before < len(CLASS), "the kill should land mid-run"
    resumed = run_grade(single["subs"], "--out", out, *ECHO_ONLY)
    assert resumed.stderr.count("] ") == len(CLASS) - done_before  # only what was left was graded
    assert outputs(out) == outputs(echo_single)
    assert _roles_like(killed_roles) == []  # the killed grader's database roles were cleaned up
    again = run_grade(single["subs"], "--out", out, *ECHO_ONLY)
    assert "graded 0 of 0" in again.stderr  # a finished batch is not graded again


def test_merged_shards_equal_a_single_run(single: dict[str, Any], echo_single: Path) -> None:
    assert {in_shard(s, (1, 2)) for s in CLASS} == {True, False}, "both shards must hold students"
    shards = [single["base"] / f"shard{k}" for k in (1, 2)]
    for k, shard_out in enumerate(shards, start=1):
        run_grade(single["subs"], "--out", shard_out, *ECHO_ONLY, "--shard", f"{k}/2")
    merged = single["base"] / "merged"
    run_grade("merge", *shards, "--out", merged)
    assert outputs(merged) == outputs(echo_single)


def test_merge_refuses_outputs_of_another_workbook_or_settings(single: dict[str, Any], tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    info = json.loads((single["out"] / "batch.json").read_text())
    info["settings"]["limits"]["timeout"] = 5
    (other / "batch.json").write_text(json.dumps(info))
    proc = subprocess.run(
        grade_cmd("merge", single["out"], other, "--out", tmp_path / "m"), capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert "graded with another workbook or other settings" in proc.stderr


def test_only_regrades_the_named_student_and_changes_nothing_else(echo_single: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(echo_single, out)
    proc = run_grade(echo_single.parent / "submissions", "--out", out, *ECHO_ONLY, "--only", "twin")
    done = [line for line in proc.stderr.splitlines() if line.startswith("[")]
    assert len(done) == 1
    assert done[0].startswith("[1/1] twin: ")
    assert outputs(out) == outputs(echo_single)


def test_a_resubmitted_exercise_is_graded_again_and_the_others_keep_their_grades(
    single: dict[str, Any], tmp_path: Path
) -> None:
    subs, out = tmp_path / "submissions", tmp_path / "out"
    shutil.copytree(single["subs"] / "full", subs / "full")
    shutil.copytree(single["out"], out)
    record = json.loads((out / "records" / "full.json").read_text())
    record["exercises"]["level2/ex01_tally"]["message"] = "kept from the first run"  # a run graded again loses it
    (out / "records" / "full.json").write_text(json.dumps(record))
    (subs / "full" / "exercises" / "level2" / "ex02_echo" / "echo.py").write_text(BUGGY_ECHO)  # resubmitted

    run_grade(subs, "--out", out, "--jobs", "2", "--timeout", "60")
    after = json.loads((out / "records" / "full.json").read_text())["exercises"]
    assert after["level2/ex01_tally"]["message"] == "kept from the first run"
    grades = _grades(out)["full"]
    assert (grades["level2/ex01_tally"], grades["level2/ex02_echo"]) == ("7", "1.5")  # the new echo.py is graded

    proc = run_grade(subs, "--out", out, "--jobs", "2", "--timeout", "60", "--exercise", "level2/ex01_tally")
    assert not [line for line in proc.stderr.splitlines() if line.startswith("[")]  # nothing changed: nothing to do


def test_calibrated_limits_grade_the_class_alike_and_a_resumed_run_reuses_them(
    single: dict[str, Any], echo_single: Path, tmp_path: Path
) -> None:
    out = tmp_path / "calibrated"
    first = run_grade(single["subs"], "--out", out, "--jobs", "2", "--exercise", "level2/ex02_echo")
    assert "calibrating the time limits: grading the reference solution of 1 exercise(s)" in first.stderr
    assert "calibrated: the reference took " in first.stderr
    measured = json.loads((out / "calibration.json").read_text())
    assert list(measured["runs"]) == ["level2/ex02_echo"]
    assert measured["runs"]["level2/ex02_echo"]
    assert all(s > 0 for s in measured["runs"]["level2/ex02_echo"])
    assert _grades(out) == _grades(echo_single)  # the limits decide no grade
    assert json.loads((out / "batch.json").read_text())["settings"]["calibrated"] is True

    resumed = run_grade(single["subs"], "--out", out, "--jobs", "2", "--exercise", "level2/ex02_echo", "--only", "twin")
    assert "calibrating" not in resumed.stderr  # measured once per output folder
    assert "calibrated: the reference took " in resumed.stderr
    assert json.loads((out / "calibration.json").read_text())["runs"] == measured["runs"]


def test_grading_stops_before_any_student_when_the_reference_loses_points(
    single: dict[str, Any], tmp_path: Path
) -> None:
    workbook = tmp_path / "workbook"  # not a git checkout: graded from its files as they are
    shutil.copytree(WORKBOOK, workbook)
    (workbook / "solutions" / "level2" / "ex02_echo" / "echo.py").write_text(BUGGY_ECHO)
    out = tmp_path / "out"
    command = grade_cmd(single["subs"], "--out", out, "--exercise", "level2/ex02_echo")
    command[command.index("--workbook") + 1] = str(workbook)
    proc = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "the reference solution does not earn full marks on this machine" in proc.stderr
    assert "level2/ex02_echo 1.5/2" in proc.stderr
    assert not list((out / "records").glob("*.json"))  # no student was graded
    assert not (out / "calibration.json").exists()
