"""Progress on stderr: a redrawn bar on a terminal, plain lines otherwise (CI logs, batch systems)."""

from __future__ import annotations

import sys
import threading
from typing import TextIO


class Progress:
    """Students done, running and failed, out of a total."""

    def __init__(self, total: int, stream: TextIO | None = None, *, tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.total = total
        self.done = self.failed = 0
        self.running: set[str] = set()
        self._lock = threading.Lock()

    def start(self, student: str) -> None:
        """A student's grading began."""
        with self._lock:
            self.running.add(student)
            self._draw()

    def finish(self, student: str, summary: str, *, ok: bool) -> None:
        """A student's grading ended (``ok`` False: errors or an infrastructure problem)."""
        with self._lock:
            self.running.discard(student)
            self.done += 1
            self.failed += not ok
            if self.tty:
                self._draw()
            else:
                self.stream.write(f"[{self.done}/{self.total}] {student}: {summary}\n")
            self.stream.flush()

    def note(self, line: str) -> None:
        """A line that is not about one student's progress."""
        with self._lock:
            if self.tty:
                self.stream.write("\r\033[K")
            self.stream.write(line + "\n")
            if self.tty:
                self._draw()
            self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        with self._lock:
            if self.tty:
                self._draw()
                self.stream.write("\n")
            self.stream.write(f"graded {self.done} of {self.total} student(s), {self.failed} with problems\n")
            self.stream.flush()

    def _draw(self) -> None:
        if not self.tty:
            return
        width = 30
        filled = width * self.done // max(self.total, 1)
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(
            f"\r\033[K[{bar}] {self.done}/{self.total} done · {len(self.running)} running · {self.failed} failed"
        )
        self.stream.flush()
