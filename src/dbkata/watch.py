"""``dbkata watch``: re-run the visible tests of the exercise whose file was saved, keep its failure on screen.

Every run is ``pytest exercises/<exercise>`` in a child process (the student's own command, so the
progress summary and the failure messages are the ones they know). The screen shows the latest run's
first failure (or collection error) and the progress summary, nothing else. In a terminal, keys are
read without Enter: ``h`` the next hint of the open task, ``r`` run again, ``q`` quit. When standard
input is not a terminal, keys are not read (stop with Ctrl-C).
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from dbkata.feedback import exercise_id

CLEAR = "\x1b[H\x1b[2J"
_SECTION = re.compile(r"^=+ (.+?) =+$")
_HEADER = re.compile(r"^_{3,} .+ _{3,}$")
_NEXT = re.compile(r"^Next: exercises/(level\d+/ex\d\d_\w+)/README\.md, task (\d+)$")
_TIMING = re.compile(r" in [\d.]+s( \([\d:]+\))?$")


@dataclass(frozen=True)
class Run:
    """One pytest run's exit code and output."""

    code: int
    output: str

    def sections(self) -> dict[str, list[str]]:
        """pytest's ``=== NAME ===`` sections (``""``: what precedes the first), each as its lines."""
        found: dict[str, list[str]] = {"": []}
        name = ""
        for line in self.output.splitlines():
            heading = _SECTION.match(line)
            if heading:
                name = heading.group(1)
                found[name] = []
            else:
                found[name].append(line)
        return found

    def failure(self) -> list[str]:
        """The first failed test's (or collection error's) block, header included."""
        sections = self.sections()
        lines = sections.get("FAILURES") or sections.get("ERRORS") or []
        starts = [i for i, line in enumerate(lines) if _HEADER.match(line)] or [0]
        end = starts[1] if len(starts) > 1 else len(lines)
        return lines[starts[0] : end]

    def outcome(self) -> str:
        """pytest's closing line (``1 failed, 1 passed``), without the duration."""
        last = next((line for line in reversed(self.output.splitlines()) if line.strip()), "")
        return _TIMING.sub("", last.strip("= ")).strip()

    def next_task(self) -> tuple[str, int] | None:
        """The progress summary's next step: the first open task, as (exercise id, task)."""
        for line in self.sections().get("dbkata progress", []):
            found = _NEXT.match(line)
            if found:
                return found.group(1), int(found.group(2))
        return None

    def screen(self, title: str) -> list[str]:
        """What the student sees: a title, the current failure, the progress summary, the outcome."""
        sections = self.sections()
        failure = self.failure()
        if not failure and self.code not in (0, 1):  # usage error, nothing collected, internal error
            failure = [line for line in sections.get("", []) if line.strip()][-15:]
        body = failure or ["Every test that ran passes."]
        progress = sections.get("dbkata progress", [])
        return [title, "", *body, "", *progress, self.outcome()]


def exercises_of(changes: Iterable[str]) -> list[str]:
    """The exercise ids of the changed files, sorted (files outside any exercise are left out)."""
    return sorted({e for path in changes if (e := exercise_id(Path(path))) is not None})


class Keys(AbstractContextManager["Keys"]):
    """Single key presses from a terminal (cbreak mode, restored on exit); nothing when stdin is not one."""

    def __init__(self) -> None:
        self.fd = sys.stdin.fileno() if sys.stdin is not None and sys.stdin.isatty() else None
        self._saved: list[Any] | None = None

    def __enter__(self) -> Keys:
        if self.fd is not None:
            import termios  # Unix only: imported where it is used
            import tty

            self._saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self.fd is not None and self._saved is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)

    def read(self, timeout: float) -> str | None:
        """The next key pressed within ``timeout`` seconds, else None (always None without a terminal)."""
        if self.fd is None:
            return None
        if not select.select([self.fd], [], [], timeout)[0]:
            return None
        return os.read(self.fd, 1).decode(errors="replace") or None


def run_pytest(workbook: Path, exercises: list[str], keys: Keys, pending: list[str]) -> Run | None:
    """``pytest exercises/<id> ...`` in a child; None when ``q`` was pressed meanwhile (the run is stopped)."""
    command = [sys.executable, "-m", "pytest", "-q", "--tb=short", "-p", "no:cacheprovider", "--dbkata-keep-server"]
    command += [f"exercises/{e}" for e in exercises]
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(command, cwd=workbook, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            while child.poll() is None:
                if keys.fd is None:
                    child.wait()  # no terminal: no key can arrive
                    break
                key = keys.read(0.2)
                if key == "q":
                    return None
                if key:
                    pending.append(key)
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
                child.wait()
        out.seek(0)
        return Run(child.returncode, out.read().decode(errors="replace"))


@dataclass
class Watcher:
    """The loop: run, show, then wait for a saved file or a key."""

    workbook: Path
    folder: Path  # what is watched: exercises/, a level's folder or an exercise's folder
    exercises: list[str]  # what the first run covers
    hint: Callable[[str, int], None]
    write: Callable[[str], None]

    def title(self, run_number: int) -> str:
        where = " ".join(f"exercises/{e}" for e in self.exercises)
        return f"dbkata watch · {where} · run {run_number}"

    def footer(self, keys: Keys) -> str:
        watched = self.folder.relative_to(self.workbook)
        if keys.fd is None:
            return f"Watching {watched}/ for saved .py files (Ctrl-C to stop)."
        return f"Watching {watched}/ for saved .py files.  [h] next hint  [r] run again  [q] quit"

    def show(self, run: Run, number: int, keys: Keys) -> None:
        clear = CLEAR if sys.stdout.isatty() else ""
        self.write(clear + "\n".join([*run.screen(self.title(number)), "", self.footer(keys)]) + "\n")

    def loop(self) -> int:
        """Run until ``q`` (exit 0); Ctrl-C ends it with KeyboardInterrupt."""
        import watchfiles  # imported here: only this command needs it

        pending: list[str] = []
        with Keys() as keys:
            number, run = 1, run_pytest(self.workbook, self.exercises, keys, pending)
            if run is None:
                return 0
            self.show(run, number, keys)
            changes = watchfiles.watch(
                self.folder, watch_filter=watchfiles.PythonFilter(), rust_timeout=200, yield_on_timeout=True
            )
            for changed in changes:
                saved = exercises_of(path for _, path in changed)
                key = pending.pop(0) if pending else keys.read(0)
                if key == "q":
                    return 0
                if key == "h":
                    self.next_hint(run)
                if saved or key == "r":
                    self.exercises = saved or self.exercises
                    number, run = number + 1, run_pytest(self.workbook, self.exercises, keys, pending)
                    if run is None:
                        return 0
                    self.show(run, number, keys)
        return 0

    def next_hint(self, run: Run) -> None:
        target = run.next_task()
        if target is None or target[0] not in self.exercises:
            self.write("\nNo open task in what ran: no hint to give.\n")
            return
        self.write("\n")
        self.hint(*target)
