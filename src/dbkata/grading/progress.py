"""Progress on stderr from the first second: a bar redrawn every second on a terminal, plain lines otherwise.

The terminal form shows students done, running and with problems, the time elapsed and an ETA. The
plain form (CI logs, batch systems) prints a line when grading starts, one per student done and, while
nothing finishes, a "still grading" line every ``heartbeat`` seconds. Time is read from ``clock``: tests
pass a fake one (and ``ticker=False``) and get deterministic text.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO


def clock_text(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) for a duration."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """Students done, running and failed, out of a total."""

    def __init__(
        self,
        total: int = 0,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        refresh: float = 1.0,
        heartbeat: float = 60.0,
        ticker: bool = True,
    ) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.total = total
        self.done = self.failed = 0
        self.running: set[str] = set()
        self.clock = clock
        self._started = clock()
        self._quiet_since = self._started
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._period = refresh if self.tty else heartbeat
        self._use_ticker = ticker
        self._ticker: threading.Thread | None = None

    def begin(self, total: int, jobs: int) -> None:
        """Grading starts: say so at once, then keep the display alive until :meth:`close`."""
        with self._lock:
            self.total = total
            self._started = self._quiet_since = self.clock()
            self._line(f"grading {total} student(s), {jobs} at a time")
            self._draw()
        if self._use_ticker and self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, name="dbkata-progress", daemon=True)
            self._ticker.start()

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
            self._quiet_since = self.clock()
            if self.tty:
                self._draw()
            else:
                self._line(f"[{self.done}/{self.total}] {student}: {summary} · {self._status()}")

    def note(self, line: str) -> None:
        """A line that is not about one student's progress."""
        with self._lock:
            self._line(line)
            self._draw()

    def close(self) -> None:
        """Stop refreshing and end the bar's line with a summary."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        with self._lock:
            if self.tty:
                self._draw()
                self.stream.write("\n")
            elapsed = clock_text(self.clock() - self._started)
            self.stream.write(
                f"graded {self.done} of {self.total} student(s), {self.failed} with problems, in {elapsed}\n"
            )
            self.stream.flush()

    # -- drawing (called with the lock held) ----------------------------------------------------------

    def eta(self) -> str:
        """Time left, from the pace so far (students done per second of grading)."""
        if self.done >= self.total:
            return "0:00"
        if not self.done:
            return "estimating"
        elapsed = self.clock() - self._started
        return clock_text(elapsed / self.done * (self.total - self.done))

    def _status(self) -> str:
        elapsed = clock_text(self.clock() - self._started)
        return f"{len(self.running)} running · {self.failed} failed · {elapsed} elapsed · ETA {self.eta()}"

    def _line(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.stream.flush()

    def _draw(self) -> None:
        if not self.tty:
            return
        width = 30
        filled = width * self.done // max(self.total, 1)
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r\033[K[{bar}] {self.done}/{self.total} done · {self._status()}")
        self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(self._period):
            self._tick_once()

    def _tick_once(self) -> None:
        """Redraw the bar, or (plain) say that grading goes on when nothing was said for a period."""
        with self._lock:
            if self.tty:
                self._draw()
            elif self.clock() - self._quiet_since >= self._period:
                self._quiet_since = self.clock()
                self._line(f"… still grading: {self.done}/{self.total} done · {self._status()}")
