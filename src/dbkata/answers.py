"""Level-1 answers: the student's predictions (``answers.toml``) read as data and compared with a real run.

The student fills in ``answers.toml``, the only editable file of a predict exercise. It is parsed with
:mod:`tomllib`, never imported or executed. Each answer is validated against its question's form on its
own: a missing, misspelled or wrongly typed answer costs that question only, and a file that does not
parse costs every question with one clear message.

The answer key is never stored: a check runs the puzzle, observes what happened, and calls
:meth:`Quiz.check` with what it saw.
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbkata import feedback
from dbkata.questions import QUESTIONS, AnswerError, Question, exception_name, load_questions

__all__ = [
    "ANSWERS",
    "AnswerError",
    "Question",
    "Quiz",
    "assert_complete",
    "exception_name",
    "expected_failures",
    "load_questions",
    "parse_answers",
    "read_answers",
]

ANSWERS = "answers.toml"
REVEAL_ENV = "DBKATA_REVEAL"  # dbkata reveal: where checks note what the real run showed


# -- the student's answers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quiz:
    """An exercise's questions and one answers file, parsed as data (or why it could not be)."""

    questions: tuple[Question, ...]
    answers: dict[str, Any] = field(default_factory=dict)
    file_error: str | None = None  # the file is missing or is not TOML: every question fails with this

    def question(self, key: str) -> Question:
        """The question with this answers.toml key."""
        for q in self.questions:
            if q.key == key:
                return q
        raise KeyError(f"no question {key!r} in {QUESTIONS}")

    def given(self, key: str) -> Any:
        """The normalized answer to one question; :class:`AnswerError` if it is missing or malformed."""
        if self.file_error is not None:
            raise AnswerError(self.file_error)
        question = self.question(key)
        if key not in self.answers:
            near = difflib.get_close_matches(key, self.unknown_keys(), n=1)
            hint = f" (is `{near[0]}` a misspelling of it?)" if near else ""
            raise AnswerError(f"`{key}` is missing from {ANSWERS}{hint}: expected {question.form()}")
        return question.normalize(self.answers[key])

    def unknown_keys(self) -> list[str]:
        """Keys in the file that no question declares (misspellings, usually)."""
        known = {q.key for q in self.questions}
        return sorted(k for k in self.answers if k not in known)

    def problems(self) -> list[str]:
        """Every reason the file is not complete and well-formed, one line each (empty: ready to grade)."""
        if self.file_error is not None:
            return [self.file_error]
        lines = []
        for q in self.questions:
            try:
                self.given(q.key)
            except AnswerError as exc:
                lines.append(f"{q.number}. {exc}")
        known = [q.key for q in self.questions]
        for key in self.unknown_keys():
            near = difflib.get_close_matches(key, known, n=1)
            lines.append(
                f"`{key}` is not a question of this exercise" + (f"; did you mean `{near[0]}`?" if near else "")
            )
        return lines

    def check(self, key: str, actual: Any) -> None:
        """Fail the running check (student-facing) unless the answer to ``key`` matches what really happened."""
        __tracebackhide__ = True
        question = self.question(key)
        try:
            given, problem = self.given(key), None
        except AnswerError as exc:
            given, problem = None, str(exc)
        note_real_run(question, actual, problem is None and question.same(given, actual))
        if problem is not None:  # failed outside the except block: no chained traceback in the message
            feedback.fail(
                f"question {question.number} is not answered in the expected form",
                f"{question.number}. {question.prompt}",
                problem,
                advice="Fill in the answer as the README shows; `pytest` in the exercise folder lists what is missing.",
            )
        if not question.same(given, actual):
            feedback.fail(
                f"question {question.number}: the prediction differs from the real run",
                f"{question.number}. {question.prompt}",
                f"You predicted: {question.show(given)}",
                f"The real run:  {question.show(actual)}",
                advice=question.concept or "Trace the code again with this result in mind.",
            )


def note_real_run(question: Question, actual: Any, matched: bool) -> None:
    """For ``dbkata reveal``: append what the run showed for this question, and whether the answer matched it,
    to the file ``$DBKATA_REVEAL`` names.

    Only a record of the observation: the check compares and fails exactly as it would without it.
    """
    path = os.environ.get(REVEAL_ENV)
    if path:
        entry = {"key": question.key, "real": question.show(actual), "matched": matched}
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")


def read_answers(folder: Path) -> Quiz:
    """The questions of the exercise in ``folder`` and its ``answers.toml``, read as data only."""
    return parse_answers(load_questions(folder), folder / ANSWERS)


def parse_answers(questions: tuple[Question, ...], path: Path) -> Quiz:
    """One answers file against these questions, read as data only (never imported, never executed)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return Quiz(questions, file_error=f"{ANSWERS} cannot be read ({type(exc).__name__}); put it back from git")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return Quiz(questions, file_error=f"{ANSWERS} is not valid TOML ({exc}); no answer could be read")
    return Quiz(questions, data)


def expected_failures(questions: Iterable[Question], reference: Quiz, candidate: Quiz) -> set[str]:
    """Keys of the automatic questions ``candidate`` should lose, judged against the reference answers."""
    lost = set()
    for q in questions:
        if q.manual:
            continue
        try:
            # reference answers name exceptions in full (module.Class), as a run reports them
            if not q.same(candidate.given(q.key), reference.given(q.key)):
                lost.add(q.key)
        except AnswerError:
            lost.add(q.key)
    return lost


def assert_complete(folder: Path) -> None:
    """Fail (student-facing) unless ``answers.toml`` in ``folder`` answers every question in its form."""
    __tracebackhide__ = True
    problems = read_answers(folder).problems()
    if problems:
        feedback.fail(
            f"{ANSWERS} is not complete yet ({len(problems)} to fix)",
            *problems,
            advice="Each README question says the form of its answer. This test never says whether one is right.",
        )
