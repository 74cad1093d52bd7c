"""The student's edit-run loop, driven for real: `dbkata watch` in a pty, `dbkata sql` after a pytest run."""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dbkata.watch import Run

ROOT = Path(__file__).resolve().parents[1]
SAFETY = 240.0  # seconds: only a safety net against a hang; every wait below ends on what was printed
EX05 = "level2/ex05_lost_update"
EX02 = "level2/ex02_dashboard_n_plus_one"


def workbook_copy(dest: Path) -> Path:
    """A student's workbook: the exercises, the manifest and the pytest configuration."""
    shutil.copytree(ROOT / "exercises", dest / "exercises", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("exercises.toml", "conftest.py", "pyproject.toml"):
        shutil.copy(ROOT / name, dest / name)
    return dest


class Terminal:
    """A child process on a pseudo-terminal: what it printed so far, and keys to send it."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        self.master, slave = os.openpty()
        self.child = subprocess.Popen(argv, cwd=cwd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        self.text = ""

    def expect(self, pattern: str, since: int = 0) -> int:
        """Read until ``pattern`` (a regex) appears after offset ``since``; the offset just after it."""
        deadline = time.monotonic() + SAFETY
        while not (found := re.search(pattern, self.text[since:], flags=re.M)):
            assert time.monotonic() < deadline, f"no {pattern!r} within {SAFETY}s; printed:\n{self.text[since:]}"
            if select.select([self.master], [], [], 1.0)[0]:
                try:
                    self.text += os.read(self.master, 65536).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    assert self.child.poll() is None or found, f"exited before {pattern!r}; printed:\n{self.text}"
        return since + found.end()

    def press(self, key: str) -> None:
        os.write(self.master, key.encode())

    def close(self) -> None:
        if self.child.poll() is None:
            self.child.kill()
            self.child.wait()
        os.close(self.master)


def test_watch_reruns_on_save_shows_a_hint_and_quits(tmp_path: Path) -> None:
    book = workbook_copy(tmp_path)
    term = Terminal([sys.executable, "-m", "dbkata", "watch", EX05], book)
    try:
        end = term.expect(r"\[q\] quit")  # the first run is on screen
        first = term.text[:end]
        assert f"dbkata watch · exercises/{EX05} · run 1" in first
        assert f"[{EX05} · task 1] a withdrawal is lost" in first
        assert f"{EX05}  task 1 ✗  (0/1)" in first

        term.press("h")
        end = term.expect(r"Draw the two transactions on a timeline", end)
        assert f"{EX05} · task 1, hint 1 of " in term.text

        shutil.copy(ROOT / "solutions" / EX05 / "service.py", book / "exercises" / EX05 / "service.py")
        end = term.expect(r"\[q\] quit", term.expect(r"· run 2", end))
        second = term.text[term.text.rindex("· run 2") :]
        assert "Every test that ran passes." in second
        assert f"{EX05}  task 1 ✓  (1/1)" in second
        assert "2 passed" in second

        term.press("q")
        assert term.child.wait(timeout=SAFETY) == 0
    finally:
        term.close()


def test_sql_groups_the_last_runs_statements_by_shape_with_their_line(tmp_path: Path) -> None:
    book = workbook_copy(tmp_path)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    pytest_run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"exercises/{EX02}"]
    subprocess.run(pytest_run, cwd=book, env=env, capture_output=True, timeout=SAFETY, check=False)
    shown = subprocess.run(
        [sys.executable, "-m", "dbkata", "sql", EX02], cwd=book, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    test = "test_dashboard.py::test_the_statement_count_does_not_grow_with_the_tasks (failed): 28 statements"
    at = lines.index(test)  # seeds 3 then 30 tasks: 1 + 3 and 1 + 23 lookups of a category, one by one
    assert lines[at + 1] == "    26 × SELECT category.id, category.name FROM category WHERE category.id = ?::INTEGER"
    assert lines[at + 2] == (
        "         from routes.py:26 in task_dashboard: "
        "category_result = await session.execute(select(Category).where(Category.id == task.category_id))"
    )
    assert lines[at + 3].startswith("     2 × SELECT task.id, task.title")
    assert lines[at + 4].startswith("         from routes.py:19 in task_dashboard: result = await session.execute(")
    sample = re.search(r"^test_dashboard\.py::.*?(?=^```)", (ROOT / "docs" / "student.md").read_text(), re.M | re.S)
    assert sample, "docs/student.md shows this output"
    assert sample.group(0).splitlines() == lines[at : at + 5]  # the guide's example is this very output


def test_sql_before_any_run_says_what_to_do(tmp_path: Path) -> None:
    book = workbook_copy(tmp_path)
    shown = subprocess.run([sys.executable, "-m", "dbkata", "sql", EX02], cwd=book, capture_output=True, text=True)
    assert shown.returncode == 2
    assert shown.stderr == (
        f"python -m dbkata: no local run of {EX02} recorded yet: run `pytest exercises/{EX02}`, then this again\n"
    )


@pytest.mark.parametrize(
    ("output", "failure", "outcome"),
    [
        (
            ".F\n=== FAILURES ===\n___ test_a ___\nboom\n___ test_b ___\nbang\n=== dbkata progress ===\n"
            "Next: exercises/level2/ex05_lost_update/README.md, task 1\n1 failed, 1 passed in 10.15s\n",
            ["___ test_a ___", "boom"],
            "1 failed, 1 passed",
        ),
        ("==== ERRORS ====\n___ ERROR collecting x ___\nSyntaxError\n=== 1 error in 0.2s ===\n", None, "1 error"),
    ],
)
def test_the_screen_keeps_the_first_failure(output: str, failure: list[str] | None, outcome: str) -> None:
    run = Run(1, output)
    assert run.failure() == (failure or ["___ ERROR collecting x ___", "SyntaxError"])
    assert run.outcome() == outcome
    assert run.next_task() == ((EX05, 1) if failure else None)


def test_a_graded_style_run_keeps_no_sql_record(tmp_path: Path) -> None:
    """Only local in-process runs keep a record: with the code in an app process (as graded), none is written."""
    book = workbook_copy(tmp_path)
    run = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--dbkata-app=subprocess",
        f"exercises/{EX02}",
    ]
    done = subprocess.run(run, cwd=book, capture_output=True, text=True, timeout=SAFETY, check=False)
    assert "2 failed, 1 passed" in done.stdout, done.stdout[-2000:]  # it ran: the starter's usual outcome
    assert not (book / ".dbkata" / "sql").exists()
