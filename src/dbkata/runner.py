"""Run pytest on an assembled tree in a subprocess and read back its JSON report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbkata.report import REPORT_VERSION

REPORT_NAME = "dbkata-report.json"


@dataclass(frozen=True)
class RunResult:
    """What one pytest subprocess produced: a report, or why there is none."""

    status: str  # "ok", "collection_error", "infrastructure_error", "timeout", "crashed"
    tests: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None
    exit_code: int | None = None
    output: str = ""

    def failed(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Tests (or only ``kind``: "test"/"check") that did not pass."""
        return [t for t in self.tests if t["outcome"] in ("failed", "error") and kind in (None, t["kind"])]

    def passed_all(self, kind: str | None = None) -> bool:
        """Every selected test ran and passed (and at least one ran)."""
        chosen = [t for t in self.tests if kind in (None, t["kind"])]
        return self.status == "ok" and bool(chosen) and not self.failed(kind)


def pytest_command(folder: Path, report: Path, *selection: str) -> list[str]:
    """The command line that runs ``selection`` (default: the whole exercise folder) with a report."""
    root = folder.parents[2]
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--dbkata-report={report}",
            "--rootdir", str(root), "-c", str(root / "pyproject.toml"), *(selection or (str(folder),))]


def run_tree(folder: Path, *selection: str, timeout: float = 300, env: dict[str, str] | None = None,
             **popen: Any) -> RunResult:
    """Run pytest on an assembled exercise folder; a crash or timeout is a result, never an exception."""
    root = folder.parents[2]
    report = root / REPORT_NAME
    report.unlink(missing_ok=True)
    proc = subprocess.Popen(pytest_command(folder, report, *selection), cwd=root, env=env or dict(os.environ),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, **popen)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, _ = proc.communicate()
        return RunResult("timeout", message=f"timed out after {timeout:g} s", output=_tail(out))
    _kill_group(proc)  # anything the tests left running in the background
    return read_report(report, proc.returncode, _tail(out))


def read_report(report: Path, exit_code: int, output: str) -> RunResult:
    """Turn a report file (or its absence) into a result."""
    try:
        data = json.loads(report.read_text())
    except (OSError, ValueError):
        return RunResult("crashed", message=f"pytest exited with code {exit_code} and wrote no report",
                         exit_code=exit_code, output=output)
    if data.get("version") != REPORT_VERSION:
        return RunResult("crashed", message=f"unknown report version {data.get('version')!r}", output=output)
    message = data.get("infrastructure_error") or "\n".join(data.get("collection_errors", [])) or None
    return RunResult(data["status"], data["tests"], message, exit_code, output)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(out: bytes | None, limit: int = 20000) -> str:
    return (out or b"")[-limit:].decode(errors="replace")
