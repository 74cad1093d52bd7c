"""Subcommands for students: hint (more verbs to come: status, check-my-test, solution, reset)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from dbkata.catalog import load_catalog
from dbkata.cli.common import Adder, CliError

STATE = ".dbkata"


def add_commands(add: Adder) -> None:
    """Register this module's subcommands."""
    p = add("hint", "the next hint of an exercise's task, one at a time (from its HINTS.md)", hint)
    p.add_argument("exercise", metavar="EXERCISE", help="e.g. level2/ex05_lost_update")
    p.add_argument("task", type=int, nargs="?", default=1, metavar="TASK", help="the task number (default 1)")


def hints(text: str) -> dict[int, list[str]]:
    """HINTS.md's bullets per task heading (``## 1.``), each bullet with its continuation lines."""
    found: dict[int, list[str]] = {}
    task = None
    for line in text.splitlines():
        heading = re.match(r"^## (\d+)\.", line)
        if heading:
            task = int(heading.group(1))
            found[task] = []
        elif task is not None and line.startswith("- "):
            found[task].append(line)
        elif task is not None and found[task] and line.startswith(" ") and line.strip():
            found[task][-1] += "\n" + line
    return found


def hint(a: argparse.Namespace) -> int:
    """Print the next hint not yet shown for this task, and remember it in .dbkata/hints.json."""
    catalog = load_catalog(a.workbook)
    spec = catalog.get(a.exercise)
    if not 1 <= a.task <= len(spec.tasks):
        raise CliError(f"{spec.id} has tasks 1 to {len(spec.tasks)}, not {a.task}")
    bullets = hints((catalog.exercise_dir(spec) / "HINTS.md").read_text()).get(a.task, [])
    state_file = Path(a.workbook) / STATE / "hints.json"
    state = json.loads(state_file.read_text()) if state_file.is_file() else {}
    key = f"{spec.id} · task {a.task}"
    shown = int(state.get(key, 0))
    if shown >= len(bullets):
        print(f'{key}: all {len(bullets)} hint(s) shown; they are in exercises/{spec.id}/HINTS.md, "{a.task}."')
        return 0
    print(f"{key}, hint {shown + 1} of {len(bullets)}:")
    print(bullets[shown])
    state[key] = shown + 1
    state_file.parent.mkdir(exist_ok=True)
    state_file.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    return 0
