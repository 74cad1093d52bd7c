"""Run pytest on an assembled tree in a subprocess and read back its JSON report."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbkata.app.launcher import AppSandbox
from dbkata.report import Kind, Report, Status, TestResult, partial_path

REPORT_NAME = "dbkata-report.json"
REPORT_LIMIT = 32 << 20  # a report larger than this was not written by the plugin


@dataclass(frozen=True)
class RunResult:
    """What one pytest subprocess produced: a report, or why there is none."""

    status: Status
    tests: tuple[TestResult, ...] = ()
    message: str | None = None
    exit_code: int | None = None
    output: str = ""

    def failed(self, kind: Kind | None = None) -> list[TestResult]:
        """Tests (or only those of ``kind``) that did not pass."""
        return [t for t in self.tests if t.failed and kind in (None, t.kind)]

    def passed_all(self, kind: Kind | None = None) -> bool:
        """Every selected test ran and passed (and at least one ran)."""
        chosen = [t for t in self.tests if kind in (None, t.kind)]
        return self.status == Status.OK and bool(chosen) and not self.failed(kind)


def pytest_command(folder: Path, report: Path, *selection: str) -> list[str]:
    """The command line that runs ``selection`` (default: the whole exercise folder) with a report."""
    root = folder.parents[2]
    return [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--dbkata-report={report}",
        "--rootdir",
        str(root),
        "-c",
        str(root / "pyproject.toml"),
        *(selection or (str(folder),)),
    ]


def run_tree(
    folder: Path,
    *selection: str,
    timeout: float = 300,
    env: dict[str, str] | None = None,
    prefix: Sequence[str] = (),
    output: Path | None = None,
    **popen: Any,
) -> RunResult:
    """Run pytest on an assembled exercise folder; a crash or timeout is a result, never an exception.

    ``prefix`` wraps the command (the grader's sandbox); with ``output`` the run's stdout and stderr go
    to that file instead of a pipe, so a process that escapes the kill cannot hold the grader up, and
    only its last lines are read back.
    """
    root = folder.parents[2]
    report = root / REPORT_NAME
    report.unlink(missing_ok=True)
    partial_path(report).unlink(missing_ok=True)
    command = [*prefix, *pytest_command(folder, report, *selection)]
    with _sink(output) as sink:
        proc = subprocess.Popen(
            command,
            cwd=root,
            env=env or dict(os.environ),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **popen,
        )
        try:
            out = _wait(proc, timeout, output)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait()
            tail = _tail_file(output) if output else _tail(proc.communicate()[0])
            finished = read_report(partial_path(report), -signal.SIGKILL, tail).tests  # the tests done before the kill
            return RunResult(Status.TIMEOUT, finished, message=f"timed out after {timeout:g} s", output=tail)
    _kill_group(proc)  # anything the tests left running in the background
    return read_report(report, proc.returncode, out)


def run_split(folder: Path, sandbox: AppSandbox, *selection: str, timeout: float = 300, **kwargs: Any) -> RunResult:
    """Run a harness tree's tests and checks with the code under test in the app process ``sandbox`` describes.

    The harness (this pytest) never imports the code: ``folder`` is an ``assemble_harness`` tree and
    ``sandbox.app_root`` an ``assemble_app`` tree. The sandbox file sits in the harness's tree.
    """
    config = folder.parents[2] / "app-sandbox.json"
    config.write_text(json.dumps(sandbox.to_json()))
    return run_tree(folder, f"--dbkata-app-sandbox={config}", *(selection or (str(folder),)), timeout=timeout, **kwargs)


def _sink(output: Path | None) -> Any:
    if output is None:
        return contextlib.nullcontext(subprocess.PIPE)
    return open(output, "wb")


def _wait(proc: subprocess.Popen[bytes], timeout: float, output: Path | None) -> str:
    if output is None:
        return _tail(proc.communicate(timeout=timeout)[0])
    proc.wait(timeout=timeout)
    return _tail_file(output)


def read_report(report: Path, exit_code: int, output: str) -> RunResult:
    """Turn a report file (or its absence) into a result."""
    try:
        data = json.loads(_read_regular(report, REPORT_LIMIT))
    except (OSError, ValueError):
        return RunResult(
            Status.CRASHED,
            message=f"pytest exited with code {exit_code} and wrote no report",
            exit_code=exit_code,
            output=output,
        )
    try:
        parsed = Report.from_json(data)
    except ValueError as exc:
        return RunResult(Status.CRASHED, message=str(exc), output=output)
    message = parsed.infrastructure_error or "\n".join(parsed.collection_errors) or None
    return RunResult(parsed.status, parsed.tests, message, exit_code, output)


def _read_regular(path: Path, limit: int) -> bytes:
    """A regular file's bytes (never a symlink, FIFO or device planted by code under test), size-capped."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            raise ValueError(f"{path} is not a regular file under {limit} bytes")
        return fh.read(limit)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _tail(out: bytes | None, limit: int = 20000) -> str:
    return (out or b"")[-limit:].decode(errors="replace")


def _tail_file(path: Path, limit: int = 20000) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, os.fstat(fh.fileno()).st_size - limit))
            return fh.read(limit).decode(errors="replace")
    except OSError:
        return ""
