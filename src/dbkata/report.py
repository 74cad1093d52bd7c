"""A versioned JSON report of one pytest run: every test and check, its task, guard flag, outcome, message, evidence.

This is the only thing that crosses back from a grading subprocess: plain JSON through explicit
``to_json``/``from_json``, never pickle. The types here (``Status``, ``Outcome``, ``TestResult``,
``Report``) are also what the grader's records are made of.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest

from dbkata import feedback
from dbkata.infra import Infrastructure

REPORT_VERSION = 2
EVIDENCE_VERSION = 1
_MESSAGE_LIMIT = 6000


class Status(StrEnum):
    """How a run (of an exercise, or of a student's test) ended."""

    OK = "ok"
    COLLECTION_ERROR = "collection_error"
    INFRASTRUCTURE_ERROR = "infrastructure_error"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    INVALID_REPORT = "invalid_report"  # the report lacks an expected test, names an unknown one, or repeats one
    NOT_RUN = "not_run"  # the submission's time budget was used up before this run
    NOT_SUBMITTED = "not_submitted"
    NOT_GRADED = "not_graded"


class Outcome(StrEnum):
    """How one test or check ended."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # failed in setup or teardown
    SKIPPED = "skipped"
    MISSING = "missing"  # expected, but the run did not report it


class Kind(StrEnum):
    """Visible test (``test_*.py`` in the exercise) or hidden check (``check_*.py``)."""

    TEST = "test"
    CHECK = "check"


@dataclass(frozen=True)
class Evidence:
    """What the probes observed during one test (statement counts, rows seen...): JSON values by key."""

    entries: Mapping[str, Any] = field(default_factory=dict)
    version: int = EVIDENCE_VERSION

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {"version": self.version, "entries": dict(self.entries)}

    @classmethod
    def from_json(cls, data: Any) -> Evidence:
        """The inverse of :meth:`to_json`; anything else is no evidence."""
        if not isinstance(data, dict) or data.get("version") != EVIDENCE_VERSION:
            return cls()
        entries = data.get("entries")
        return cls(dict(entries) if isinstance(entries, dict) else {})


@dataclass(frozen=True)
class TestResult:
    """One test or check of a run."""

    __test__ = False  # not a pytest test class

    nodeid: str
    kind: Kind
    task: int | None
    outcome: Outcome
    guard: bool = False  # marked ``@pytest.mark.guard``: the untouched starter passes it
    message: str | None = None
    duration: float = 0.0
    evidence: Evidence = field(default_factory=Evidence)

    @property
    def name(self) -> str:
        """The node id without its path: ``test_x[param]``."""
        return self.nodeid.split("::", 1)[-1]

    @property
    def failed(self) -> bool:
        """Failed in its call, setup or teardown."""
        return self.outcome in (Outcome.FAILED, Outcome.ERROR)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "nodeid": self.nodeid,
            "kind": self.kind.value,
            "task": self.task,
            "guard": self.guard,
            "outcome": self.outcome.value,
            "message": self.message,
            "duration": self.duration,
            "evidence": self.evidence.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TestResult:
        """The inverse of :meth:`to_json` (a ``ValueError``/``KeyError``/``TypeError`` on malformed data)."""
        task = data.get("task")
        message = data.get("message")
        return cls(
            nodeid=str(data["nodeid"]),
            kind=Kind(data["kind"]),
            task=None if task is None else int(task),
            outcome=Outcome(data["outcome"]),
            guard=bool(data.get("guard", False)),
            message=None if message is None else str(message),
            duration=float(data.get("duration", 0.0)),
            evidence=Evidence.from_json(data.get("evidence")),
        )


@dataclass(frozen=True)
class Report:
    """What one pytest run reports."""

    status: Status
    tests: tuple[TestResult, ...] = ()
    infrastructure_error: str | None = None
    collection_errors: tuple[str, ...] = ()
    exit_code: int = 0
    version: int = REPORT_VERSION

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "version": self.version,
            "status": self.status.value,
            "infrastructure_error": self.infrastructure_error,
            "exit_code": self.exit_code,
            "collection_errors": list(self.collection_errors),
            "tests": [t.to_json() for t in self.tests],
        }

    @classmethod
    def from_json(cls, data: Any) -> Report:
        """The inverse of :meth:`to_json`; ``ValueError`` if this is not a report of this version."""
        if not isinstance(data, dict) or data.get("version") != REPORT_VERSION:
            version = data.get("version") if isinstance(data, dict) else None
            raise ValueError(f"unknown report version {version!r}")
        try:
            return cls(
                status=Status(data["status"]),
                tests=tuple(TestResult.from_json(t) for t in data["tests"]),
                infrastructure_error=data.get("infrastructure_error"),
                collection_errors=tuple(str(e) for e in data.get("collection_errors", [])),
                exit_code=int(data.get("exit_code", 0)),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed report: {type(exc).__name__}: {exc}") from exc


def partial_path(report: Path) -> Path:
    """Where the report so far is kept while the run goes on: what is left of it if the run is killed."""
    return report.with_name(report.name + ".partial")


class JsonReport:
    """Collects test reports and writes them atomically when the session ends, and after each test so far."""

    def __init__(self, path: Path, infra: Infrastructure) -> None:
        self.path = path
        self.infra = infra
        self.tests: dict[str, TestResult] = {}
        self.collection_errors: list[str] = []

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        outcome = yield
        report = outcome.get_result()
        marker = item.get_closest_marker("task")
        report.user_properties.append(("dbkata_task", int(marker.args[0]) if marker and marker.args else None))
        report.user_properties.append(("dbkata_guard", item.get_closest_marker("guard") is not None))
        if call.when == "call":
            report.user_properties.append(("dbkata_evidence", feedback.evidence()))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self.tests.get(report.nodeid) or self._new_entry(report)
        props = dict(report.user_properties)
        if props.get("dbkata_evidence"):
            recorded = props["dbkata_evidence"]
            entry = replace(entry, evidence=Evidence(dict(recorded) if isinstance(recorded, dict) else {}))
        entry = replace(entry, duration=round(entry.duration + report.duration, 4))
        if report.failed:
            outcome = Outcome.FAILED if report.when == "call" else Outcome.ERROR
            entry = replace(entry, outcome=outcome, message=report.longreprtext[-_MESSAGE_LIMIT:])
        elif report.skipped and entry.outcome == Outcome.PASSED:
            reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else None
            entry = replace(entry, outcome=Outcome.SKIPPED, message=reason)
        self.tests[report.nodeid] = entry
        if report.when == "teardown":  # the test is done: a run killed from now on still keeps it
            self._write(partial_path(self.path), Report(Status.OK, tuple(self.tests.values())))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(f"{report.nodeid}: {report.longreprtext[-_MESSAGE_LIMIT:]}")

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        status = Status.OK
        if self.infra.failure:
            status = Status.INFRASTRUCTURE_ERROR
        elif self.collection_errors:
            status = Status.COLLECTION_ERROR
        data = Report(
            status, tuple(self.tests.values()), self.infra.failure, tuple(self.collection_errors), int(exitstatus)
        )
        self._write(self.path, data)
        partial_path(self.path).unlink(missing_ok=True)

    @staticmethod
    def _write(path: Path, data: Report) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data.to_json(), indent=1, default=str))
        os.replace(tmp, path)

    @staticmethod
    def _new_entry(report: pytest.TestReport) -> TestResult:
        name = Path(report.nodeid.split("::")[0]).name
        props = dict(report.user_properties)
        task = props.get("dbkata_task")
        return TestResult(
            nodeid=report.nodeid,
            kind=Kind.CHECK if name.startswith("check_") else Kind.TEST,
            task=task if isinstance(task, int) else None,
            outcome=Outcome.PASSED,
            guard=bool(props.get("dbkata_guard", False)),
        )
