"""Subcommands for the student's edit-run loop: watch (re-run on save) and sql (what the last run sent)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dbkata.catalog import load_catalog
from dbkata.cli.common import Adder, CliError
from dbkata.cli.student import hint
from dbkata.lastrun import record_path
from dbkata.watch import Watcher


def add_commands(add: Adder) -> None:
    """Register this module's subcommands."""
    p = add("watch", "re-run the visible tests of the exercise you save; h: next hint, q: quit", watch)
    p.add_argument(
        "target", nargs="?", metavar="LEVEL|EXERCISE", help="e.g. level2 or level2/ex05_lost_update (default: all)"
    )
    p = add("sql", "the SQL statements the last local run of an exercise sent, grouped by shape, with their lines", sql)
    p.add_argument("exercise", metavar="EXERCISE", help="e.g. level2/ex02_dashboard_n_plus_one")


def watch(a: argparse.Namespace) -> int:
    """Run the target's visible tests, then again on every saved .py file under it, until ``q``."""
    workbook = Path(a.workbook)
    catalog = load_catalog(workbook)
    ids = [s.id for s in catalog.exercises]
    if a.target is None:
        exercises, folder = ids, workbook / "exercises"
    elif a.target in ids:
        exercises, folder = [a.target], catalog.exercise_dir(catalog.get(a.target))
    elif any(i.startswith(f"{a.target.rstrip('/')}/") for i in ids):
        level = a.target.rstrip("/")
        exercises, folder = [i for i in ids if i.startswith(f"{level}/")], workbook / "exercises" / level
    else:
        raise CliError(f"{a.target} is neither a level nor an exercise of {workbook / 'exercises.toml'}")

    def next_hint(exercise: str, task: int) -> None:
        hint(argparse.Namespace(workbook=workbook, exercise=exercise, task=task))
        sys.stdout.flush()

    return Watcher(workbook, folder, exercises, next_hint, _write).loop()


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def sql(a: argparse.Namespace) -> int:
    """Print, per test, the statements the last local run of the exercise sent, grouped by shape."""
    spec = load_catalog(Path(a.workbook)).get(a.exercise)
    path = record_path(Path(a.workbook), spec.id)
    if not path.is_file():
        raise CliError(f"no local run of {spec.id} recorded yet: run `pytest exercises/{spec.id}`, then this again")
    record = json.loads(path.read_text())
    print(f"{spec.id}: the SQL statements of its last local run, per test (pytest exercises/{spec.id})")
    for test in record["tests"]:
        print()
        print(*_test_lines(test), sep="\n")
    if not record["tests"]:
        print("\nNo test of that run sent a statement through the database fixtures.")
    return 0


def _test_lines(test: dict[str, Any]) -> list[str]:
    count = test["statements"]
    lines = [f"{test['test']} ({test['outcome']}): {count} statement{'' if count == 1 else 's'}"]
    for group in test["groups"]:
        lines.append(f"  {group['count']:>4} × {group['shape']}")
        lines += [
            f"         from {origin}" + (f"  (×{n})" if n != group["count"] else "") for origin, n in group["origins"]
        ]
    shown = sum(g["count"] for g in test["groups"])
    if shown < count:
        lines.append(f"       … and {count - shown} more, of shapes sent less often")
    return lines
