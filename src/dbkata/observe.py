"""Observing puzzle code for level-1 checks: what it printed, in order, and what it raised.

Puzzle code is workbook code (a given module), run in the check's process. Its printed lines are
``LABEL: text`` or ``LABEL: text = value``; a check compares the labels' order, the values, or the
exception with the student's predictions.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

_WORDS: dict[str, object] = {"None": None, "True": True, "False": False}


@dataclass
class Printed:
    """One run of puzzle code."""

    lines: list[str] = field(default_factory=list)
    raised: BaseException | None = None  # what the code raised (None: it returned)

    @property
    def labels(self) -> list[str]:
        """The label of every printed line, in order."""
        return [line.split(":", 1)[0].strip() for line in self.lines]

    def value(self, label: str) -> object:
        """The value after the last `` = `` of the line with this label, as Python printed it; KeyError if absent."""
        for line in self.lines:
            head, _, rest = line.partition(":")
            if head.strip() == label and " = " in rest:
                return parse_value(rest.rsplit(" = ", 1)[1].strip())
        raise KeyError(label)

    def mark(self, label: str) -> None:
        """Add a line of the check's own (``SEND`` when the response starts) at this point of the run."""
        self.lines.append(f"{label}: (observed by the check)")


def parse_value(text: str) -> object:
    """``None``, ``True``/``False``, a whole number, or the text itself."""
    if text in _WORDS:
        return _WORDS[text]
    return int(text) if text.lstrip("-").isdigit() else text


class _LineSink(io.TextIOBase):
    """A stdout that hands every complete line to ``lines`` as soon as it is written."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *done, self.pending = (self.pending + text).split("\n")
        self.lines.extend(line for line in done if line.strip())
        return len(text)

    def close_tail(self) -> None:
        if self.pending.strip():
            self.lines.append(self.pending)
        self.pending = ""


async def run_printing(action: Callable[[Printed], Awaitable[object]]) -> Printed:
    """Run ``action(printed)`` with stdout captured line by line; an exception it raises is recorded."""
    printed = Printed()
    sink = _LineSink(printed.lines)
    try:
        with contextlib.redirect_stdout(sink):
            await action(printed)
    except Exception as exc:  # what the puzzle raises is part of what was observed
        printed.raised = exc
    finally:
        sink.close_tail()
    return printed
