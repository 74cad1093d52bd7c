"""A versioned JSON report of one pytest run: every test and check, its task, outcome, message, evidence.

This is the only thing that crosses back from a grading subprocess: plain JSON, never pickle.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from dbkata import feedback
from dbkata.infra import Infrastructure

REPORT_VERSION = 1
_MESSAGE_LIMIT = 6000


class JsonReport:
    """Collects test reports and writes them atomically when the session ends."""

    def __init__(self, path: Path, infra: Infrastructure) -> None:
        self.path = path
        self.infra = infra
        self.tests: dict[str, dict[str, Any]] = {}
        self.collection_errors: list[str] = []

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        outcome = yield
        report = outcome.get_result()
        marker = item.get_closest_marker("task")
        report.user_properties.append(("dbkata_task", int(marker.args[0]) if marker and marker.args else None))
        if call.when == "call":
            report.user_properties.append(("dbkata_evidence", feedback.evidence()))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self.tests.setdefault(report.nodeid, self._new_entry(report))
        props = dict(report.user_properties)
        if props.get("dbkata_evidence"):
            entry["evidence"] = props["dbkata_evidence"]
        entry["duration"] = round(entry["duration"] + report.duration, 4)
        if report.failed:
            entry["outcome"] = "failed" if report.when == "call" else "error"
            entry["message"] = report.longreprtext[-_MESSAGE_LIMIT:]
        elif report.skipped and entry["outcome"] == "passed":
            entry["outcome"] = "skipped"
            entry["message"] = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else None

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(f"{report.nodeid}: {report.longreprtext[-_MESSAGE_LIMIT:]}")

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        status = "ok"
        if self.infra.failure:
            status = "infrastructure_error"
        elif self.collection_errors:
            status = "collection_error"
        data = {
            "version": REPORT_VERSION,
            "status": status,
            "infrastructure_error": self.infra.failure,
            "exit_code": int(exitstatus),
            "collection_errors": self.collection_errors,
            "tests": list(self.tests.values()),
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, default=str))
        os.replace(tmp, self.path)

    @staticmethod
    def _new_entry(report: pytest.TestReport) -> dict[str, Any]:
        file = report.nodeid.split("::")[0]
        name = Path(file).name
        props = dict(report.user_properties)
        return {
            "nodeid": report.nodeid,
            "file": name,
            "kind": "check" if name.startswith("check_") else "test",
            "exercise": feedback.exercise_id(Path(file)),
            "task": props.get("dbkata_task"),
            "outcome": "passed",
            "message": None,
            "duration": 0.0,
            "evidence": {},
        }
