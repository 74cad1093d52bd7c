"""The grading record: what the run stage observed for one student, typed, versioned, JSON in and out.

One record per student lives in the output folder (``records/<student>.json``); scoring and every output
are pure functions of these records, so the JSON form is deterministic: no timings in the graded part,
keys sorted when written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dbkata.report import Status, TestResult

RECORD_VERSION = 2


class TestRunOutcome(StrEnum):
    """How the student's own test fared on one version of the code."""

    __test__ = False  # not a pytest test class

    PASSED = "passed"
    FAILED = "failed"
    NO_TESTS = "no_tests"  # the file collected no test
    NOT_SUBMITTED = "not_submitted"
    INCOMPLETE = "incomplete"  # the run did not complete: see its status


@dataclass(frozen=True)
class StudentTestRun:
    """The student's test file run on one version: the reference, a ``good_*``, the starter or a ``bad_*``.

    Only names and outcomes are kept, never failure messages: on the reference run a message could carry
    the reference's source.
    """

    target: str  # "solution", "good_x", "starter" or "bad_x"
    outcome: TestRunOutcome
    status: Status = Status.OK
    failed: tuple[str, ...] = ()  # the student's tests that failed there, by name

    @property
    def correct_version(self) -> bool:
        """Whether the code run was a correct one (the test must pass there)."""
        return self.target == "solution" or self.target.startswith("good_")

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "target": self.target,
            "outcome": self.outcome.value,
            "status": self.status.value,
            "failed": list(self.failed),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StudentTestRun:
        """The inverse of :meth:`to_json`."""
        return cls(
            str(data["target"]),
            TestRunOutcome(data["outcome"]),
            Status(data.get("status", Status.OK)),
            tuple(str(n) for n in data.get("failed", ())),
        )


@dataclass(frozen=True)
class Explanation:
    """A free-text answer for a person to grade: its task, the question and what the student wrote."""

    task: int
    question: str  # "4. Explain: ..."
    answer: str  # "" when not answered

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {"task": self.task, "question": self.question, "answer": self.answer}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Explanation:
        """The inverse of :meth:`to_json`."""
        return cls(int(data["task"]), str(data["question"]), str(data["answer"]))


@dataclass(frozen=True)
class Learning:
    """A level-1 exercise's learning loop, for the instructor: the reveal, and the free-text answers."""

    revealed: str  # dbkata.learning: NOT_REVEALED, UNCHANGED or CHANGED
    explanations: tuple[Explanation, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {"revealed": self.revealed, "explanations": [e.to_json() for e in self.explanations]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Learning:
        """The inverse of :meth:`to_json`."""
        return cls(str(data["revealed"]), tuple(Explanation.from_json(e) for e in data.get("explanations", ())))


@dataclass(frozen=True)
class ExerciseRun:
    """One exercise of one submission: how its code-task run ended, and its student-test runs by task."""

    status: Status
    message: str | None = None
    files: tuple[str, ...] = ()
    tests: tuple[TestResult, ...] = ()
    student_tests: Mapping[int, tuple[StudentTestRun, ...]] = field(default_factory=dict)
    learning: Learning | None = None  # level 1 only: information, never points
    submitted: str | None = None  # Submission.fingerprint_of(the exercise) when graded

    @property
    def scorable(self) -> bool:
        """Its tasks are scored from its tests: the run completed, or timed out after reporting some of them."""
        return self.status == Status.OK or (self.status == Status.TIMEOUT and bool(self.tests))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        data: dict[str, Any] = {
            "status": self.status.value,
            "message": self.message,
            "files": list(self.files),
            "tests": [t.to_json() for t in self.tests],
        }
        if self.student_tests:
            data["student_tests"] = {
                str(task): [r.to_json() for r in runs] for task, runs in sorted(self.student_tests.items())
            }
        if self.learning is not None:
            data["learning"] = self.learning.to_json()
        if self.submitted is not None:
            data["submitted"] = self.submitted
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExerciseRun:
        """The inverse of :meth:`to_json`."""
        return cls(
            Status(data["status"]),
            data.get("message"),
            tuple(str(f) for f in data.get("files", ())),
            tuple(TestResult.from_json(t) for t in data.get("tests", ())),
            {
                int(task): tuple(StudentTestRun.from_json(r) for r in runs)
                for task, runs in data.get("student_tests", {}).items()
            },
            Learning.from_json(data["learning"]) if data.get("learning") else None,
            str(data["submitted"]) if data.get("submitted") else None,
        )


@dataclass(frozen=True)
class GradingRecord:
    """Everything graded of one student: the submission's fingerprint, notes, and each exercise's run."""

    student: str
    submission: str
    notes: tuple[str, ...] = ()
    exercises: Mapping[str, ExerciseRun] = field(default_factory=dict)
    workbook: str | None = None  # the workbook's fingerprint when graded (set when the record is stored)
    settings: Mapping[str, Any] | None = None
    seconds: float | None = None  # volatile: kept out of every output
    version: int = RECORD_VERSION

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        data: dict[str, Any] = {
            "version": self.version,
            "student": self.student,
            "submission": self.submission,
            "notes": list(self.notes),
            "exercises": {k: self.exercises[k].to_json() for k in sorted(self.exercises)},
        }
        if self.workbook is not None:
            data["workbook"] = self.workbook
        if self.settings is not None:
            data["settings"] = dict(self.settings)
        if self.seconds is not None:
            data["seconds"] = self.seconds
        return data

    @classmethod
    def from_json(cls, data: Any) -> GradingRecord:
        """The inverse of :meth:`to_json`; ``ValueError`` for another version or malformed data."""
        if not isinstance(data, dict) or data.get("version") != RECORD_VERSION:
            raise ValueError("not a grading record of this version")
        try:
            return cls(
                str(data["student"]),
                str(data["submission"]),
                tuple(str(n) for n in data.get("notes", ())),
                {str(k): ExerciseRun.from_json(v) for k, v in data.get("exercises", {}).items()},
                data.get("workbook"),
                data.get("settings"),
                data.get("seconds"),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed grading record: {type(exc).__name__}: {exc}") from exc
