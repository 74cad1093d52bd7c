"""Infrastructure faults are retried and reported as such, never as a student's zero; claims are verified.

The decision logic of ``run._run_checked`` is driven here with scripted run results and a scripted
server (healthy or not, repairable or not); a student's faked claim is covered end to end in
test_hostile.py.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dbkata.catalog import ExerciseSpec, Task, load_catalog
from dbkata.grading import batch, collect, run, state
from dbkata.grading.database import InfrastructureFault, SubmissionRole
from dbkata.grading.progress import Progress
from dbkata.grading.record import ExerciseRun, GradingRecord
from dbkata.grading.run import RunSettings, _Context
from dbkata.grading.sandbox import Slot
from dbkata.report import Kind, Outcome, Status, TestResult
from dbkata.runner import RunResult
from tests.grading.conftest import WORKBOOK

SPEC = ExerciseSpec("level2/ex02_echo", "Echo", ("echo.py",), (Task(1, 2),))
OK = RunResult(Status.OK, (TestResult("x::t", Kind.CHECK, 1, Outcome.PASSED),))
CRASH = RunResult(Status.CRASHED, message="pytest exited with code 1 and wrote no report", exit_code=1)
CLAIM = RunResult(Status.INFRASTRUCTURE_ERROR, message="the database server died")


class ScriptedServer:
    """Healthy or not as told, call by call; repair works or not."""

    def __init__(self, healthy: list[bool], repairable: bool) -> None:
        self.healthy = iter(healthy)
        self.repairable = repairable
        self.repairs = 0

    def check_health(self) -> None:
        if not next(self.healthy, True):
            raise InfrastructureFault("the database server did not answer: connection refused")

    def repair(self) -> None:
        self.repairs += 1
        if not self.repairable:
            raise InfrastructureFault("restarting the embedded server failed")

    def ensure_role(self, role: SubmissionRole) -> None:
        pass


def _checked(monkeypatch: pytest.MonkeyPatch, results: list[RunResult], server: ScriptedServer) -> RunResult:
    script = iter(results)
    monkeypatch.setattr(run, "_run_once", lambda *args: next(script))
    ctx = _Context(
        None,
        None,
        server,
        SubmissionRole("r", ""),
        RunSettings(),
        Path("/nonexistent"),
        0.0,  # type: ignore[arg-type]
        itertools.count(),
    )
    return run._run_checked(ctx, SPEC, Path("."), None, ())


def test_a_crash_while_the_server_is_down_and_cannot_be_repaired_is_an_infrastructure_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = _checked(monkeypatch, [CRASH], ScriptedServer([False], repairable=False))
    assert result.status == "infrastructure_error"
    assert result.message == (
        "the database server did not answer: connection refused; repair failed: restarting the embedded server failed"
    )


def test_a_crash_while_the_server_was_down_is_retried_after_the_repair(monkeypatch: pytest.MonkeyPatch) -> None:
    server = ScriptedServer([False], repairable=True)
    assert _checked(monkeypatch, [CRASH, OK], server) is OK
    assert server.repairs == 1


def test_a_crash_on_a_healthy_server_is_the_submissions_own(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _checked(monkeypatch, [CRASH, OK], ScriptedServer([True], repairable=True)) is CRASH


def test_a_claimed_fault_on_a_healthy_server_is_retried_once_then_not_believed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _checked(monkeypatch, [CLAIM, OK], ScriptedServer([True], repairable=True)) is OK
    result = _checked(monkeypatch, [CLAIM, CLAIM], ScriptedServer([True, True], repairable=True))
    assert result.status == "crashed"
    assert result.message == (
        "the run reported a database failure, but the grader found the server healthy: the database server died"
    )


def test_a_server_that_keeps_failing_gives_up_after_three_tries(monkeypatch: pytest.MonkeyPatch) -> None:
    result = _checked(monkeypatch, [CRASH] * 3, ScriptedServer([False] * 3, repairable=True))
    assert (result.status, result.message) == (
        "infrastructure_error",
        "the database server kept failing; gave up after 3 tries",
    )


def test_exercises_left_with_an_infrastructure_error_are_graded_again_on_resume(tmp_path: Path) -> None:
    catalog_like: Any = type("C", (), {"exercises": (SPEC,)})()
    sub = collect.Submission("amy", tmp_path, {"level2/ex02_echo/echo.py": b"x"})
    info = {"workbook": "w", "settings": {"s": 1}}
    record = GradingRecord(
        "amy",
        sub.fingerprint(),
        exercises={SPEC.id: ExerciseRun(Status.INFRASTRUCTURE_ERROR)},
        workbook="w",
        settings={"s": 1},
    )
    state.write_record(tmp_path, record)
    options = batch.BatchOptions(tmp_path, tmp_path)
    todo = batch._plan(catalog_like, options, info, sub)
    assert todo is not None
    assert todo.exercises == (SPEC.id,)
    state.write_record(tmp_path, replace(record, exercises={SPEC.id: ExerciseRun(Status.OK)}))
    assert batch._plan(catalog_like, options, info, sub) is None  # finished: resume skips it


def test_a_grader_fault_becomes_an_infrastructure_error_record_not_a_stopped_batch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def boom(*args: Any) -> GradingRecord:
        raise OSError("No space left on device")

    monkeypatch.setattr(batch, "grade_submission", boom)
    sub = collect.Submission("amy", tmp_path, {"level2/ex02_echo/echo.py": b"x"})
    slots: Any = __import__("queue").Queue()
    slots.put(type("S", (), {"index": 0})())
    progress = Progress(1, io.StringIO(), tty=False)
    info = {"workbook": "w", "settings": {}}
    batch._grade_one(
        None,
        {SPEC.id: SPEC},
        batch._Todo(sub, (SPEC.id,)),
        slots,
        None,
        RunSettings(),  # type: ignore[arg-type]
        tmp_path,
        batch.BatchOptions(tmp_path, tmp_path),
        info,
        progress,
        None,  # type: ignore[arg-type]
    )
    record = state.read_record(tmp_path, "amy")
    assert record is not None
    assert record.exercises[SPEC.id] == ExerciseRun(
        Status.INFRASTRUCTURE_ERROR,
        "the grader failed: OSError: No space left on device",
        submitted=sub.fingerprint_of(SPEC.id),
    )
    assert slots.qsize() == 1  # the slot went back for the next student


class _QuietServer(ScriptedServer):
    """A healthy server whose housekeeping does nothing (no database is touched)."""

    def __init__(self) -> None:
        super().__init__([], repairable=True)

    def create_role(self) -> SubmissionRole:
        return SubmissionRole("r", "postgresql://r@/postgres")

    def drop_role(self, role: SubmissionRole) -> None:
        pass

    def drop_databases(self, role: SubmissionRole) -> None:
        pass

    def make_room_for_templates(self, needed: int) -> None:
        pass


def test_run_folders_and_logs_are_private_to_the_grader(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: dict[str, int] = {}

    def fake_run_tree(folder: Path, *args: Any, output: Path, **kwargs: Any) -> RunResult:
        work = output.parent
        for label, path in [
            ("slot", work),
            ("staged", work / "staged"),
            ("log", output),
            ("run", output.with_suffix("")),
        ]:
            seen[label] = path.stat().st_mode & 0o777
        return OK

    def fake_run_split(folder: Path, sandbox: Any, *args: Any, output: Path, **kwargs: Any) -> RunResult:
        seen["app"] = sandbox.app_root.stat().st_mode & 0o777
        seen["rendezvous"] = sandbox.rendezvous.stat().st_mode & 0o777
        return fake_run_tree(folder, *args, output=output, **kwargs)

    monkeypatch.setattr(run, "run_tree", fake_run_tree)
    monkeypatch.setattr(run, "run_split", fake_run_split)
    catalog = load_catalog(WORKBOOK)
    spec = catalog.get("level2/ex02_echo")
    sub = collect.Submission("amy", tmp_path, {"level2/ex02_echo/echo.py": b"x = 1\n"})
    slot: Any = type(
        "S", (), {"give": Slot.give, "uid": None, "gid": None, "isolated": False, "kill_all": lambda self: 0}
    )()
    slot.env = lambda tree, url: {"DATABASE_URL": url}
    slot.prefix = lambda limits, **kw: []
    server: Any = _QuietServer()
    run.grade_submission(catalog, [spec], sub, slot, server, RunSettings(), tmp_path / "slot0")
    # The harness's tree (run), the app's tree and the rendezvous folder are each private.
    assert seen == {"slot": 0o711, "staged": 0o700, "log": 0o600, "run": 0o700, "app": 0o700, "rendezvous": 0o700}
