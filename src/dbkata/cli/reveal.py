"""``dbkata reveal EXERCISE``: the real run of a level-1 puzzle, shown once the student's answers are complete.

The real run is observed the way the hidden checks observe it (they run, each noting what it saw), and
the sha256 of ``answers.toml`` at that moment goes to ``.dbkata/reveals.json``, so the grader can tell
the instructor whether the answers changed after the reveal (:mod:`dbkata.learning`).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dbkata import answers, learning
from dbkata.assemble import assemble
from dbkata.catalog import Catalog, ExerciseSpec, load_catalog
from dbkata.cli.common import Adder, CliError
from dbkata.report import Status
from dbkata.runner import run_tree


def add_commands(add: Adder) -> None:
    """Register this module's subcommands."""
    p = add("reveal", "the real run of a level-1 puzzle, once your answers are complete (it is remembered)", reveal)
    p.add_argument("exercise", metavar="EXERCISE", help="e.g. level1/ex02_false_safety_net")


def reveal(a: argparse.Namespace) -> int:
    """Refuse while answers are missing; otherwise run the puzzle, show prediction vs reality, remember it."""
    catalog = load_catalog(a.workbook)
    spec = catalog.get(a.exercise)
    if answers.ANSWERS not in spec.editable:
        raise CliError(f"{spec.id} is not a predict exercise: reveal is for level 1 (their {answers.ANSWERS})")
    folder = catalog.exercise_dir(spec)
    quiz = answers.read_answers(folder)
    problems = quiz.problems()
    if problems:
        print(f"{spec.id}: the real run is shown once every answer is in; {len(problems)} to fix first:")
        print("\n".join(f"  {line}" for line in problems))
        print(f"Predict first: the lesson is where your prediction and the run differ ({folder / answers.ANSWERS}).")
        return 2
    content = (folder / answers.ANSWERS).read_bytes()
    real = real_run(catalog, spec)
    print(f"{spec.id}: your predictions and the real run")
    for q in quiz.questions:
        if q.manual:
            continue
        mine = q.show(quiz.given(q.key))
        seen = real.get(q.key)
        mark = "?" if seen is None else ("✓" if seen.matched else "✗")
        print(f"{mark} {q.number}. {q.prompt}")
        print(f"    you: {mine}")
        print(f"    run: {'(not observed: the run stopped before this question)' if seen is None else seen.shown}")
    learning.record_reveal(Path(a.workbook), spec.id, content)
    print(f"Remembered in {learning.REVEALS}: the grader reports answers changed after this reveal (never points).")
    return 0


@dataclass(frozen=True)
class Seen:
    """What the real run showed for one question (as the student would write it), and whether it was predicted."""

    shown: str
    matched: bool


def real_run(catalog: Catalog, spec: ExerciseSpec) -> dict[str, Seen]:
    """Question key → what the real run showed, as the hidden checks observed it (a fresh database each).

    Whether the answer matched is decided by the check itself, on the real value (a set, a sequence, an
    exception), never by comparing text.
    """
    checks = catalog.checks_dir(spec)
    if not checks.is_dir():
        raise CliError(
            f"this workbook has no hidden checks for {spec.id} (a student release): ask your instructor "
            "for the real run, or run the puzzle yourself"
        )
    with tempfile.TemporaryDirectory(prefix="dbkata-reveal-") as tmp:
        folder = assemble(catalog, spec, catalog.exercise_dir(spec), Path(tmp) / "tree")
        notes = Path(tmp) / "real-run.jsonl"
        notes.touch()
        result = run_tree(folder, env={**os.environ, answers.REVEAL_ENV: str(notes)})
        if result.status not in (Status.OK,):
            raise CliError(f"the puzzle could not be run ({result.status}): {result.message or 'no message'}")
        seen: dict[str, Seen] = {}
        for line in notes.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            seen.setdefault(str(entry["key"]), Seen(str(entry["real"]), entry.get("matched") is True))
    return seen
