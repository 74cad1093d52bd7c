"""Per-student feedback in Markdown: per exercise and task, what passed, what failed and why.

The instructor chooses how much of the hidden checks a student sees:

``summary``   task scores and the one-line reason only;
``messages``  (default) also each failing check's student-facing message (conventions §3); a failure
              that is not such a message shows only its exception lines, never the check's source;
``full``      also the names of hidden checks, whole tracebacks and the recorded evidence.
"""

from __future__ import annotations

import json

from dbkata.grading.score import ExerciseScore, Item, StudentScore, TaskScore

LEVELS = ("summary", "messages", "full")
_MAX_LINES = 30


def student_markdown(scored: StudentScore, level: str = "messages") -> str:
    """The whole feedback file of one student."""
    total = "not available (an infrastructure error: grading will be retried)" if scored.total is None \
        else f"{scored.total:g} / {scored.points:g} automatic points"
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
    for item in task.items:
        if item.passed and level != "full":
            continue
        lines += ["", f"- {'✓' if item.passed else '✗'} {_label(item, level)}: {item.outcome}"]
        if item.message and not item.passed:
            lines += ["", *("  " + line for line in _block(_visible_text(item.message, item.kind, level)))]
        if level == "full" and item.evidence:
            lines += ["", "  Evidence:", "", *("  " + line for line in _block(json.dumps(item.evidence, indent=1,
                                                                                          sort_keys=True)))]
    return lines


def _label(item: Item, level: str) -> str:
    if item.kind == "test":
        return f"visible test `{item.name}`"
    if item.kind == "student_test":
        return f"your test {item.name}"
    return f"hidden check `{item.name}`" if level == "full" else "a hidden check"


def _visible_text(message: str, kind: str, level: str) -> str:
    """What of a failure message the student sees: dbkata messages whole, other failures only their errors."""
    if level == "full" or kind == "test" or message.lstrip().startswith("["):
        return _cap(message)
    errors = [line[1:].strip() for line in message.splitlines() if line.startswith("E ")]
    return _cap("\n".join(errors) if errors else message.strip().splitlines()[-1])


def _cap(text: str) -> str:
    lines = text.strip("\n").splitlines()
    if len(lines) > _MAX_LINES:
        lines = [*lines[:_MAX_LINES], f"… ({len(lines) - _MAX_LINES} more lines)"]
    return "\n".join(lines)


def _block(text: str) -> list[str]:
    fence = "````" if "```" in text else "```"
    return [fence, *text.splitlines(), fence]
