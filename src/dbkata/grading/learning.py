"""Level 1 for the instructor: whether a student saw the real run before the final answers, and their explanations.

Computed by the grader from the submission as data (``answers.toml`` parsed with tomllib, the reveals
file as JSON), never by the run; it is information for the instructor and the TA, never points.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace

from dbkata import answers, learning
from dbkata.catalog import Catalog, ExerciseSpec
from dbkata.grading.collect import Submission
from dbkata.grading.record import ExerciseRun, Explanation, Learning


def with_learning(run: ExerciseRun, catalog: Catalog, spec: ExerciseSpec, sub: Submission) -> ExerciseRun:
    """``run`` with its :class:`Learning` when ``spec`` is a predict exercise (one with an answers file)."""
    if answers.ANSWERS not in spec.editable:
        return run
    content = sub.files.get(f"{spec.id}/{answers.ANSWERS}")
    revealed = learning.reveal_status(learning.read_reveals(sub.reveals), spec.id, content)
    return replace(run, learning=Learning(revealed, explanations(catalog, spec, content)))


def explanations(catalog: Catalog, spec: ExerciseSpec, content: bytes | None) -> tuple[Explanation, ...]:
    """Each free-text question of the exercise with the student's text ("" when absent or not text)."""
    questions = answers.load_questions(catalog.exercise_dir(spec))
    try:
        data = tomllib.loads(content.decode("utf-8")) if content is not None else {}
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        data = {}
    found = []
    for q in questions:
        if q.manual:
            raw = data.get(q.key)
            text = raw.strip() if isinstance(raw, str) else ""
            found.append(Explanation(q.task, f"{q.number}. {q.prompt}", text))
    return tuple(found)
