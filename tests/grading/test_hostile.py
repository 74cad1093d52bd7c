"""Hostile and broken submissions each get a clear result, and the rest of the class is graded normally.

One grade.py run over a class of eight: an honest full solution and seven submissions whose code
misbehaves on purpose. Bounded for a shared 2-core machine: 10 s per exercise run, 128 processes per
sandbox user, 2 GB of address space, 16 MB per written file.
"""

from __future__ import annotations

import json
import secrets
import socket
from pathlib import Path
from typing import Any

import psutil
import pytest

from dbkata.grading.sandbox import isolation_available
from dbkata.report import REPORT_VERSION
from tests.grading.conftest import SOLVED_ECHO, WORKBOOK, run_grade, submit

FORK_NAME = f"dbkfork{secrets.token_hex(3)}"  # 13 characters: a process name (comm) keeps 15
ECHO_ID = "level2/ex02_echo"
ECHO = f"{ECHO_ID}/echo.py"
HOSTILE = {
    "syntax": "def echo(:\n",
    "loop": "async def echo(value):\n    while True:\n        pass\n",
    "exit": "import os\n\n\nasync def echo(value):\n    os._exit(0)\n",
    "alloc": "async def echo(value):\n    block = bytearray(4 << 30)  # 4 GB\n    return value\n",
    "forks": (  # each child names itself FORK_NAME, so the test finds whatever is left of them
        "import ctypes, os, time\n\n\nasync def echo(value):\n    while True:\n        if os.fork() == 0:\n"
        f"            ctypes.CDLL(None).prctl(15, {FORK_NAME.encode()!r}, 0, 0, 0)  # PR_SET_NAME\n"
        "            time.sleep(600)\n            os._exit(0)\n"
    ),
    "print": "async def echo(value):\n    line = 'x' * 1023\n    for _ in range(1 << 20):  # 1 GB\n"
    "        print(line)\n    return value\n",
    "fakeinfra": (
        "import json, os, sys\n\n\nasync def echo(value):\n"
        "    path = next(a.split('=', 1)[1] for a in sys.argv if a.startswith('--dbkata-report='))\n"
        f"    report = {{'version': {REPORT_VERSION}, 'status': 'infrastructure_error', 'exit_code': 4,\n"
        "              'infrastructure_error': 'the database server died', 'collection_errors': [],"
        " 'tests': []}\n"
        "    with open(path, 'w') as fh:\n        json.dump(report, fh)\n    os._exit(4)\n"
    ),
}
NETWORK = """import socket


async def echo(value):
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    except OSError:
        return value
    return "reached the network"
"""
READER = """import os


async def echo(value):
    peeked = [name for folder in {folders!r} for name in (os.listdir(folder) if os.path.isdir(folder) else [])]
    return value if not peeked else "saw " + ", ".join(sorted(peeked))
"""
DELETER = """import shutil
from pathlib import Path


async def echo(value):
    here = Path(__file__).resolve()
    for target in {targets!r} + [str(here.parents[5]), str(Path.home())]:
        shutil.rmtree(target, ignore_errors=True)
        try:
            Path(target, "canary.txt").unlink()
        except OSError:
            pass
    return value
"""


# The sandbox (namespaces, made as root or in a user namespace) hides and protects everything outside
# the run folder. Where the machine cannot make one, grade.py refuses untrusted code, so the three
# attacks that need isolation are only submitted when it exists.
ISOLATED = isolation_available()
NEED_ISOLATION = 3


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("hostile")
    base.chmod(0o755)
    subs, out, outside = base / "submissions", base / "out", base / "outside"
    outside.mkdir()
    (outside / "canary.txt").write_text("still here")
    submit(subs, "honest", {ECHO: SOLVED_ECHO})
    for student, code in HOSTILE.items():
        submit(subs, student, {ECHO: code})
    listener = socket.create_server(("127.0.0.1", 0))  # something to reach, if the network were there
    if ISOLATED:
        targets = [str(outside), str(out), str(subs / "honest"), str(WORKBOOK / "checks")]
        submit(subs, "deleter", {ECHO: DELETER.format(targets=targets)})
        peek = [str(WORKBOOK / "solutions"), str(WORKBOOK / "checks"), str(subs), str(out)]
        submit(subs, "reader", {ECHO: READER.format(folders=peek)})
        submit(subs, "network", {ECHO: NETWORK.format(port=listener.getsockname()[1])})
    with listener:
        run_grade(subs, "--out", out, "--jobs", "2", "--timeout", "10", "--file-size", "16", "--exercise", ECHO_ID)
    results = json.loads((out / "results.json").read_text())
    by_student = {s["student"]: s["exercises"][1] for s in results["students"]}
    feedback = {p.stem: p.read_text() for p in (out / "feedback").glob("*.md")}
    return {"out": out, "subs": subs, "outside": outside, "ex": by_student, "feedback": feedback}


def test_the_honest_student_is_graded_normally(graded: dict[str, Any]) -> None:
    assert graded["ex"]["honest"]["score"] == 2
    assert graded["ex"]["honest"]["run_status"] == "ok"


def test_syntax_error_is_reported_with_its_line(graded: dict[str, Any]) -> None:
    assert graded["ex"]["syntax"]["score"] == 0
    assert "The code raised SyntaxError: invalid syntax (echo.py, line 1)" in graded["feedback"]["syntax"]


def test_infinite_loop_costs_only_the_checks_it_stops(graded: dict[str, Any]) -> None:
    # The harness gives each request a safety limit (--timeout); the run itself goes on and completes.
    loop = graded["ex"]["loop"]
    assert (loop["run_status"], loop["score"]) == ("ok", 0)
    assert "the app did not answer echo.echo() within 10 s" in graded["feedback"]["loop"]


def test_os_exit_ends_only_its_own_app_process(graded: dict[str, Any]) -> None:
    # The code runs in an app process of its own: os._exit() there cannot end the harness's run.
    exiting = graded["ex"]["exit"]
    assert (exiting["run_status"], exiting["score"]) == ("ok", 0)
    assert "the app process ended while the check was talking to it" in graded["feedback"]["exit"]


def test_a_4gb_allocation_fails_with_memory_error(graded: dict[str, Any]) -> None:
    assert graded["ex"]["alloc"]["score"] == 0
    assert "MemoryError" in graded["feedback"]["alloc"]


def test_runaway_forking_hits_the_process_limit_and_leaves_nothing_running(graded: dict[str, Any]) -> None:
    assert graded["ex"]["forks"]["score"] == 0
    assert "Resource temporarily unavailable" in graded["feedback"]["forks"]
    # By name, not by user: as a normal user the children run as the grader's user, and other graders
    # (root's sandbox users) may be running on this machine.
    forked = [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == FORK_NAME]
    assert forked == []


def test_a_1gb_print_is_cut_at_the_file_size_limit(graded: dict[str, Any]) -> None:
    assert graded["ex"]["print"]["score"] == 0
    assert "File too large" in graded["feedback"]["print"]


def test_a_faked_infrastructure_error_is_not_believed(graded: dict[str, Any]) -> None:
    # The report is written by the harness, where the code cannot reach: the forgery changes nothing.
    fake = graded["ex"]["fakeinfra"]
    assert (fake["run_status"], fake["score"]) == ("ok", 0)


@pytest.mark.skipif(not ISOLATED, reason="no sandbox here: the code could delete the grader's files")
def test_deleting_files_outside_its_folder_fails(graded: dict[str, Any]) -> None:
    assert (graded["outside"] / "canary.txt").read_text() == "still here"
    assert (graded["subs"] / "honest" / "exercises" / ECHO).read_text() == SOLVED_ECHO
    assert (WORKBOOK / "checks" / "level2" / "ex02_echo" / "check_echo.py").is_file()
    assert (graded["out"] / "grades.csv").is_file()
    # What it could delete was its own run folder, which costs it checks: a clear result, nothing more.
    assert graded["ex"]["deleter"]["run_status"] in ("ok", "crashed")
    assert graded["ex"]["deleter"]["score"] < 2


@pytest.mark.skipif(not ISOLATED, reason="hiding folders needs a private mount namespace")
def test_solutions_checks_and_other_submissions_are_hidden_from_the_code(graded: dict[str, Any]) -> None:
    assert graded["ex"]["reader"]["score"] == 2, graded["feedback"]["reader"]


@pytest.mark.skipif(not ISOLATED, reason="no private network namespace here")
def test_the_code_has_no_network(graded: dict[str, Any]) -> None:
    assert graded["ex"]["network"]["score"] == 2, graded["feedback"]["network"]


def test_every_student_has_a_row(graded: dict[str, Any]) -> None:
    lines = (graded["out"] / "grades.csv").read_text().splitlines()
    assert len(lines) == 1 + 1 + len(HOSTILE) + (NEED_ISOLATION if ISOLATED else 0)
    assert not any(Path(graded["out"], "records").glob(".*.tmp"))
