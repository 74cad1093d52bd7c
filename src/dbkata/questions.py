"""Level-1 questions: what an exercise asks (``questions.toml``, given) and the form of each answer.

A question has a kind (an ordered list of labels, a set of labels, one choice, an exception class, a
whole number, yes/no, free text) and knows how to read an answer in its form (case, spacing and order
where order is not asked do not matter), how to compare it with what a run observed, and how to show
either to a student.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

QUESTIONS = "questions.toml"
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

    def _rank(self, label: str) -> tuple[int, str]:
        return _rank_of(self.choices, label)

    def show(self, value: Any) -> str:
        """A value as the student would write it."""
        if self.kind == "exception":
            return exception_name(value) or "none"
        if value is None:
            return "none"
        if self.kind == "set":  # in the order the question declares its labels: deterministic text
            return ", ".join(sorted((str(v) for v in value), key=self._rank))
        if self.kind == "sequence":
            return ", ".join(str(v) for v in value)
        if self.kind == "bool":
            return "yes" if value else "no"
        return str(value)


def _rank_of(choices: tuple[str, ...], label: str) -> tuple[int, str]:
    lowered = [c.lower() for c in choices]
    return (lowered.index(label.lower()) if label.lower() in lowered else len(lowered), label)


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
