"""Subcommands for students: status, hint, check-my-test, solution, reset."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from dbkata import answers, results
from dbkata.catalog import Catalog, ExerciseSpec, load_catalog
from dbkata.cli.common import Adder, CliError

STATE = ".dbkata"


def add_commands(add: Adder) -> None:
    """Register this module's subcommands."""
    from dbkata.cli.student_checktest import check_my_test
    from dbkata.cli.student_files import reset, solution

    add("status", "the whole workbook by level, exercise and task, from your last runs; what to do next", status)
    p = add("hint", "the next hint of an exercise's task, one at a time (from its HINTS.md)", hint)
    p.add_argument("exercise", metavar="EXERCISE", help="e.g. level2/ex05_lost_update")
    p.add_argument("task", type=int, nargs="?", default=1, metavar="TASK", help="the task number (default 1)")
    p = add("check-my-test", "run the test you wrote on the reference and the starter, judged as graded", check_my_test)
    p.add_argument("exercise", metavar="EXERCISE", help="e.g. level2/ex01_leaky_dependency")
    p = add("solution", "the reference and a diff against your files, once the exercise passes locally", solution)
    p.add_argument("exercise", metavar="EXERCISE", help="e.g. level2/ex05_lost_update")
    p = add("reset", "restore an exercise's files to the starter (yours are kept in .dbkata/backups/)", reset)
    p.add_argument("exercise", metavar="EXERCISE", help="e.g. level2/ex05_lost_update")


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


_MARK = {results.DONE: "✓", results.FAILED: "✗", results.PARTIAL: "·"}
_LEGEND = "✓ done  ✗ failing  · not all its tests ran  ? not run yet  - no visible test: the grader decides"


def status(a: argparse.Namespace) -> int:
    """Print the whole workbook from the last run of each exercise (``.dbkata/results.json``)."""
    catalog = load_catalog(a.workbook)
    print(*status_lines(catalog, results.load(catalog.root)), sep="\n")
    return 0


def status_lines(catalog: Catalog, known: dict[str, results.ExerciseResult]) -> list[str]:
    """Levels in manifest order, one line per exercise, the totals and the next thing to do; deterministic."""
    width = max(len(s.id) for s in catalog.exercises)
    levels = list(dict.fromkeys(s.level for s in catalog.exercises))
    out, done, checkable, earned, possible, decided = [], 0, 0, 0.0, 0.0, 0.0
    for level in levels:
        out.append(level)
        for spec in (s for s in catalog.exercises if s.level == level):
            marks = _marks(spec, known.get(spec.id))
            line = "  ".join(f"task {n} {m}" for n, m in marks.items())
            points = sum(spec.task(n).points for n, m in marks.items() if m == "✓")
            out.append(f"  {spec.id:<{width}}  {line}  {points:g}/{spec.points:g} points{_note(spec, known)}")
            done += sum(m == "✓" for m in marks.values())
            checkable += sum(m != "-" for m in marks.values())
            earned += points
            possible += sum(spec.task(n).points for n, m in marks.items() if m != "-")
            decided += sum(spec.task(n).points for n, m in marks.items() if m == "-")
    out.append(_LEGEND)
    out.append(
        f"Progress: {done}/{checkable} tasks with visible tests done, {earned:g}/{possible:g} of their points "
        f"(another {decided:g} points have no visible test: the grader decides them)"
    )
    out.append(_next(catalog, known))
    out.append("From the last run of each exercise (.dbkata/results.json): `pytest exercises/LEVEL` updates it.")
    return out


def _marks(spec: ExerciseSpec, last: results.ExerciseResult | None) -> dict[int, str]:
    """One mark per task: ✓ ✗ · from the last run, ? never run, - no visible test (predict answers, manual)."""
    predict = spec.editable == (answers.ANSWERS,)
    return {
        t.number: "-"
        if predict or t.manual
        else "?"
        if last is None or t.number not in last.tasks
        else _MARK[last.tasks[t.number]]
        for t in spec.tasks
    }


def _note(spec: ExerciseSpec, known: dict[str, results.ExerciseResult]) -> str:
    last = known.get(spec.id)
    if last is None:
        return "  (not run yet)"
    if spec.editable == (answers.ANSWERS,):
        return "  (answers complete)" if last.passes else "  (answers incomplete or malformed)"
    return ""


def _next(catalog: Catalog, known: dict[str, results.ExerciseResult]) -> str:
    """The first open task in manifest order: one with a visible test not done, or a predict exercise not complete."""
    for spec in catalog.exercises:
        last = known.get(spec.id)
        if spec.editable == (answers.ANSWERS,):
            if last is None or not last.passes:
                return f"Next: exercises/{spec.id}/README.md, task 1"
            continue
        for number, mark in _marks(spec, last).items():
            if mark not in ("✓", "-"):
                return f"Next: exercises/{spec.id}/README.md, task {number}"
    return "Next: every task with a visible test is done; `dbkata solution EXERCISE` shows a reference"
