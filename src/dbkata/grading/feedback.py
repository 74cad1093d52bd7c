"""Per-student feedback in Markdown: per exercise and task, what passed, what failed and why.

The instructor chooses how much of the hidden checks a student sees:

``summary``   task scores and the one-line reason only;
``messages``  (default) also each failing check's student-facing message (conventions §3); a failure
              that is not such a message shows only its exception lines, never the check's source;
``full``      also the names of hidden checks, whole tracebacks and the recorded evidence.

A run of the student's own test (on the reference, a variant or the starter) is always one line: where
it ran and how it ended, never a failure message (on the reference it could show the reference's code).
"""

from __future__ import annotations

import json
import re

from dbkata.grading.score import ExerciseScore, Item, StudentScore, TaskScore

LEVELS = ("summary", "messages", "full")
_MAX_LINES = 30
_LOCATION = re.compile(r"^\S+\.py:\d+: ")


def student_markdown(scored: StudentScore, level: str = "messages") -> str:
    """The whole feedback file of one student."""
    total = (
        "not available (an infrastructure error: grading will be retried)"
        if scored.total is None
        else f"{scored.total:g} / {scored.points:g} automatic points"
    )
    lines = [f"# dbkata feedback for {scored.student}", "", f"**Total:** {total}  ", f"**Status:** {scored.status}"]
    lines += [f"- note: {n}" for n in scored.notes]
    for exercise in scored.exercises:
        lines += ["", *exercise_markdown(exercise, level)]
    return "\n".join(lines) + "\n"


def exercise_markdown(exercise: ExerciseScore, level: str) -> list[str]:
    """One exercise's section."""
    got = "—" if exercise.score is None else f"{exercise.score:g}"
    lines = [f"## {exercise.id} — {exercise.title}: {got} / {exercise.points:g}"]
    if exercise.run_status not in ("ok",):
        lines += ["", f"Run: **{exercise.run_status.replace('_', ' ')}**"]
        if exercise.message:
            lines += ["", *_block(_visible_text(exercise.message, "check", level))]
    if exercise.learning is not None:  # information for the instructor, never points
        lines += ["", f"Real run: {exercise.learning.revealed} (`dbkata reveal`; this never changes points)."]
    for task in exercise.tasks:
        lines += ["", *task_markdown(task, level)]
    return lines


def task_markdown(task: TaskScore, level: str) -> list[str]:
    """One task's section: score, reason, and the items the level lets the student see."""
    if task.score is None:
        head = f"### Task {task.number} — {task.points:g} point(s): {task.reason}"
        return [head] + ([f"Rubric: {task.manual}"] if task.manual and level == "full" else [])
    lines = [f"### Task {task.number} — {task.score:g} / {task.points:g}: {task.status}", "", task.reason + "."]
    if level == "summary":
        return lines
    for group in _groups(task.items, level):
        item = group[0]
        label = _label(item, level) if len(group) == 1 else _plural(group, level)
        lines += ["", f"- {'✓' if item.passed else '✗'} {label}: {item.outcome}"]
        if item.kind == "student_test":
            continue  # one line per run, whatever the level
        if item.message and not item.passed:
            lines += ["", *("  " + line for line in _block(_visible_text(item.message, item.kind, level)))]
        if level == "full" and item.evidence:
            evidence = json.dumps(item.evidence, indent=1, sort_keys=True)
            lines += ["", "  Evidence:", "", *("  " + line for line in _block(evidence))]
    return lines


def _groups(items: tuple[Item, ...], level: str) -> list[list[Item]]:
    """Items to show; consecutive ones of a kind that failed the same way are folded into one entry."""
    groups: list[list[Item]] = []
    for item in items:
        if item.passed and level != "full":
            continue
        prev = groups[-1][0] if groups else None
        if prev is not None and level != "full" and item.kind != "student_test" and _same_failure(prev, item, level):
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def _same_failure(a: Item, b: Item, level: str) -> bool:
    return (
        a.kind == b.kind
        and not a.passed
        and not b.passed
        and a.outcome == b.outcome
        and _visible_text(a.message or "", a.kind, level) == _visible_text(b.message or "", b.kind, level)
    )


def _plural(group: list[Item], level: str) -> str:
    if group[0].kind == "check":
        return f"{len(group)} hidden checks"
    return f"{len(group)} visible tests ({', '.join(f'`{i.name}`' for i in group)})"


def _label(item: Item, level: str) -> str:
    guard = " (guard)" if item.guard else ""
    if item.kind == "test":
        return f"visible test `{item.name}`{guard}"
    if item.kind == "student_test":
        return f"your test {item.name}"
    return f"hidden check `{item.name}`{guard}" if level == "full" else f"a hidden check{guard}"


def _visible_text(message: str, kind: str, level: str) -> str:
    """What of a failure message the student sees: dbkata messages whole, other failures only their errors."""
    if level == "full" or message.lstrip().startswith("["):
        return _cap(message)
    lines = message.splitlines()
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    where = [line for line in lines if _LOCATION.match(line) and not line.startswith("/")]
    if kind != "check" and where:
        errors.append(where[-1])  # where in the student's (or the visible test's) code it went wrong
    return _cap("\n".join(errors) if errors else (lines[-1] if lines else ""))


def _cap(text: str) -> str:
    lines = text.strip("\n").splitlines()
    if len(lines) > _MAX_LINES:
        lines = [*lines[:_MAX_LINES], f"… ({len(lines) - _MAX_LINES} more lines)"]
    return "\n".join(lines)


def _block(text: str) -> list[str]:
    fence = "````" if "```" in text else "```"
    return [fence, *text.splitlines(), fence]
