"""Level-1 answers: the questions an exercise declares, the student's predictions read as data, compared.

An exercise declares its questions in ``questions.toml`` (given); the student fills in ``answers.toml``
(the only editable file). Answers are parsed with :mod:`tomllib`, never imported or executed. Each answer
is validated against its question's form on its own: a missing, misspelled or wrongly typed answer costs
that question only, and a file that does not parse costs every question with one clear message.

The answer key is never stored: a check runs the puzzle, observes what happened, and calls
:meth:`Quiz.check` with what it saw.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbkata import feedback

QUESTIONS = "questions.toml"
ANSWERS = "answers.toml"
KINDS = ("sequence", "set", "choice", "exception", "int", "bool", "text")
_NONE_WORDS = ("none", "no exception")
_YES, _NO = ("yes", "true", "y"), ("no", "false", "n")

_FORMS = {
    "sequence": "a list of labels in order, from {choices}",
    "set": "a list of labels, in any order, from {choices}",
    "choice": "one of {choices}",
    "exception": 'an exception class name such as "KeyError" or "sqlalchemy.exc.NoResultFound"{none}',
    "qualified": 'an exception class as an `except` clause would name it: "KeyError" (a builtin) or '
    '"sqlalchemy.exc.NoResultFound"{none}',
    "int": "a whole number such as 7{none}",
    "bool": 'true or false (or "yes" / "no")',
    "text": "a few sentences in a string",
}


class AnswerError(ValueError):
    """An answer that is missing or not in its question's form; the message says which form is expected."""


@dataclass(frozen=True)
class Question:
    """One question of an exercise: where its answer goes, what form it takes, which task it belongs to."""

    key: str  # the answers.toml key
    number: str  # as the README numbers it: "1a"
    task: int
    kind: str
    prompt: str
    choices: tuple[str, ...] = ()
    allow_none: bool = False  # int/exception: "none" is a valid answer
    qualified: bool = False  # exception: a bare name means a builtin, as in an `except` clause
    concept: str = ""  # where to look when the prediction was wrong

    @property
    def manual(self) -> bool:
        """Free text: read by a person, never compared automatically."""
        return self.kind == "text"

    def form(self) -> str:
        """The expected form, in words."""
        choices = ", ".join(f'"{c}"' for c in self.choices)
        none = ', or "none"' if self.allow_none else ""
        form = "qualified" if self.kind == "exception" and self.qualified else self.kind
        return _FORMS[form].format(choices=choices, none=none)

    def normalize(self, raw: object) -> Any:
        """The answer in canonical form (labels spelled as declared); :class:`AnswerError` if malformed."""
        if raw is None or raw == "" or raw == []:
            raise AnswerError(f"`{self.key}` is not answered yet: expected {self.form()}")
        try:
            return _NORMALIZE[self.kind](self, raw)
        except AnswerError as exc:
            raise AnswerError(f"`{self.key} = {_toml(raw)}`: {exc}; expected {self.form()}") from None

    def same(self, given: Any, actual: Any) -> bool:
        """Whether a normalized answer matches what the run observed."""
        if self.kind == "exception":
            real = exception_name(actual)
            if given is None or real is None:
                return given is real
            mine, full = str(given).lower(), real.lower()
            return mine == full if "." in mine else mine == full.rsplit(".", 1)[-1]
        if self.kind == "set":
            return sorted(given) == sorted(actual)
        if self.kind == "sequence":
            return list(given) == list(actual)
        return bool(given == actual)

    def show(self, value: Any) -> str:
        """A value as the student would write it."""
        if self.kind == "exception":
            return exception_name(value) or "none"
        if value is None:
            return "none"
        if self.kind in ("sequence", "set"):
            return ", ".join(str(v) for v in value)
        if self.kind == "bool":
            return "yes" if value else "no"
        return str(value)


def _labels(q: Question, raw: object) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in raw):
        raise AnswerError("not a list of labels")
    canonical = {c.lower(): c for c in q.choices}
    given = [str(v).strip().lower() for v in raw]  # numbered labels may be written as numbers
    unknown = [v for v, g in zip(raw, given, strict=True) if g not in canonical]
    if unknown:
        raise AnswerError(f"unknown label(s) {', '.join(repr(u) for u in unknown)}")
    return [canonical[g] for g in given]


def _sequence(q: Question, raw: object) -> list[str]:
    return _labels(q, raw)


def _set(q: Question, raw: object) -> frozenset[str]:
    labels = _labels(q, raw)
    if len(set(labels)) != len(labels):
        raise AnswerError("a label appears twice")
    return frozenset(labels)


def _choice(q: Question, raw: object) -> str:
    if not isinstance(raw, (str, int)) or isinstance(raw, bool):
        raise AnswerError("not a string")
    return _labels(q, [raw])[0]


def _exception(q: Question, raw: object) -> str | None:
    if not isinstance(raw, str):
        raise AnswerError("not a string")
    name = raw.strip()
    if name.lower() in _NONE_WORDS:
        if q.allow_none:
            return None
        raise AnswerError("this question expects an exception")
    if not all(part.isidentifier() for part in name.split(".")):
        raise AnswerError("not a class name")
    return f"builtins.{name}" if q.qualified and "." not in name else name


def _int(q: Question, raw: object) -> int | None:
    if isinstance(raw, str) and raw.strip().lower() in _NONE_WORDS and q.allow_none:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise AnswerError("not a whole number" + (' (write "none" for no value)' if q.allow_none else ""))
    return raw


def _bool(q: Question, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in (*_YES, *_NO):
        return raw.strip().lower() in _YES
    raise AnswerError("not yes or no")


def _text(q: Question, raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise AnswerError("not a non-empty string")
    return raw.strip()


_NORMALIZE = {
    "sequence": _sequence,
    "set": _set,
    "choice": _choice,
    "exception": _exception,
    "int": _int,
    "bool": _bool,
    "text": _text,
}


def exception_name(value: object) -> str | None:
    """``module.Class`` of an exception (instance or class); None for None; a string is taken as is."""
    if value is None or isinstance(value, str):
        return value
    cls = value if isinstance(value, type) else type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def _toml(raw: object) -> str:
    if isinstance(raw, str):
        return '"' + raw.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, list):
        return "[" + ", ".join(_toml(v) for v in raw) + "]"
    return str(raw)


# -- the questions an exercise declares ------------------------------------------------------------------


def load_questions(folder: Path) -> tuple[Question, ...]:
    """The questions declared in ``folder/questions.toml`` (a workbook file: errors here are the author's)."""
    path = folder / QUESTIONS
    data = tomllib.loads(path.read_text())
    questions = tuple(_question(entry, path) for entry in data.get("question", []))
    keys = [q.key for q in questions]
    if not questions or len(set(keys)) != len(keys):
        raise ValueError(f"{path}: needs [[question]] entries with distinct keys")
    return questions


def _question(entry: dict[str, Any], path: Path) -> Question:
    kind = entry.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{path}: question {entry.get('key')!r} has kind {kind!r}; known: {', '.join(KINDS)}")
    if kind in ("sequence", "set", "choice") and not entry.get("choices"):
        raise ValueError(f"{path}: question {entry.get('key')!r} ({kind}) needs choices")
    return Question(
        key=str(entry["key"]),
        number=str(entry["number"]),
        task=int(entry["task"]),
        kind=kind,
        prompt=str(entry["prompt"]),
        choices=tuple(entry.get("choices", ())),
        allow_none=bool(entry.get("allow_none", False)),
        qualified=bool(entry.get("qualified", False)),
        concept=str(entry.get("concept", "")),
    )


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
