"""Write every output of an output folder from its state (batch.json + records): nothing else is read.

grades.csv, canvas.csv, moodle.csv, gradescope/<student>/results.json, feedback/<student>.md,
results.json (every check with its evidence), ta-worksheet.csv (manual tasks and their rubric), report.html.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from dbkata.grading import state
from dbkata.grading.feedback import LEVELS, exercise_markdown, student_markdown
from dbkata.grading.record import ExerciseRun, GradingRecord
from dbkata.grading.report_html import class_report
from dbkata.grading.score import ExerciseScore, StudentScore, score_student

OUTPUT_UMASK = 0o027  # files 0640, folders 0750: a TA in the grader's group reads them, others do not


def write_outputs(out: Path, level: str = "messages", umask: int = OUTPUT_UMASK) -> Counter[str]:
    """Rebuild all outputs; return how many students have each status (graded, infrastructure_error...)."""
    if level not in LEVELS:
        raise ValueError(f"feedback level must be one of {', '.join(LEVELS)}")
    info = state.read_batch(out)
    if info is None:
        raise ValueError(f"{out} has no batch.json: not a grade.py output folder")
    specs = [state.spec_from_json(e) for e in info["exercises"]]
    records = state.read_records(out)
    scores = [score_student(sid, specs, rec) for sid, rec in sorted(records.items())]
    state.write_text(out / "grades.csv", grades_csv(scores))
    state.write_text(out / "canvas.csv", canvas_csv(scores))
    state.write_text(out / "moodle.csv", moodle_csv(scores))
    state.write_text(out / "ta-worksheet.csv", ta_worksheet(scores))
    state.write_json(out / "results.json", results_json(info, scores, records))
    _write_each(out / "feedback", {f"{s.student}.md": student_markdown(s, level) for s in scores})
    _write_each(
        out / "gradescope",
        {f"{s.student}/results.json": gradescope_json(s, level) for s in scores if s.total is not None},
    )
    state.write_text(out / "report.html", class_report(info, scores))
    share(out, umask)
    return Counter(s.status for s in scores)


def share(out: Path, umask: int) -> None:
    """Give the output folder, and everything in it, the modes ``umask`` leaves (files are written 0600)."""
    for path in [out, *out.rglob("*")]:
        if path.is_symlink():
            continue
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def _write_each(folder: Path, files: dict[str, str]) -> None:
    """Write these files and remove any other file a previous run left in ``folder``."""
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if path.is_file() and path.relative_to(folder).as_posix() not in files:
            path.unlink()
    for name, text in files.items():
        state.write_text(folder / name, text)
    for path in sorted(folder.rglob("*"), reverse=True) if folder.is_dir() else []:
        if path.is_dir() and not any(path.iterdir()):
            shutil.rmtree(path)


def _csv(rows: list[list[object]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _manual_columns(exercise: ExerciseScore) -> list[str]:
    return [f"{exercise.id} task {t.number} (manual)" for t in exercise.tasks if t.manual is not None]


def grades_csv(scores: list[StudentScore]) -> str:
    """One row per student: a column per exercise id (and empty ones for manual tasks), total, status."""
    if not scores:
        return "student,total,status\n"
    header: list[object] = ["student"]
    for exercise in scores[0].exercises:
        header += [exercise.id, *_manual_columns(exercise)]
    rows = [[*header, "total", "status"]]
    for s in scores:
        row: list[object] = [s.student]
        for exercise in s.exercises:
            row += [_num(exercise.score), *["" for _ in _manual_columns(exercise)]]
        rows.append([*row, _num(s.total), s.status])
    return _csv(rows)


def canvas_csv(scores: list[StudentScore]) -> str:
    """Canvas gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, one column per exercise."""
    exercises = scores[0].exercises if scores else ()
    head: list[object] = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    rows: list[list[object]] = [
        [*head, *[f"dbkata {e.id}" for e in exercises]],
        ["Points Possible", "", "", "", "", *[f"{e.points:g}" for e in exercises]],
    ]
    for s in scores:
        rows.append([s.student, "", s.student, s.student, "", *[_num(e.score) for e in s.exercises]])
    return _csv(rows)


def moodle_csv(scores: list[StudentScore]) -> str:
    """Moodle grade import: a username column, then per exercise a grade and a feedback column."""
    exercises = scores[0].exercises if scores else ()
    rows: list[list[object]] = [["username", *[h for e in exercises for h in (e.id, f"{e.id} feedback")]]]
    for s in scores:
        row: list[object] = [s.student]
        for e in s.exercises:
            summary = "; ".join(f"task {t.number}: {t.reason}" for t in e.tasks if t.manual is None)
            row += [_num(e.score), summary]
        rows.append(row)
    return _csv(rows)


def ta_worksheet(scores: list[StudentScore]) -> str:
    """Manual tasks to grade: one row per student and task, with the rubric and empty score/comment cells.

    A level-1 task also shows its question, the student's text and whether the real run was revealed.
    """
    rows: list[list[object]] = [
        ["student", "exercise", "task", "points", "rubric", "question", "answer", "revealed", "score", "comment"]
    ]
    for s in scores:
        for e in s.exercises:
            said = {x.task: x for x in e.learning.explanations} if e.learning else {}
            revealed = e.learning.revealed if e.learning else ""
            for t in e.tasks:
                if t.manual is not None:
                    text = said.get(t.number)
                    question, answer = (text.question, text.answer) if text else ("", "")
                    rows.append(
                        [s.student, e.id, t.number, f"{t.points:g}", t.manual, question, answer, revealed, "", ""]
                    )
    return _csv(rows)


def gradescope_json(scored: StudentScore, level: str) -> str:
    """Gradescope's results.json: one test per automatic task, feedback as Markdown."""
    tests = []
    for i, exercise in enumerate(scored.exercises, start=1):
        for task in exercise.tasks:
            if task.score is None:
                continue
            section = exercise_markdown(exercise, level)
            tests.append(
                {
                    "name": f"{exercise.id} · task {task.number}",
                    "number": f"{i}.{task.number}",
                    "score": task.score,
                    "max_score": task.points,
                    "output_format": "md",
                    "output": _task_output(section, task.number),
                    "visibility": "visible",
                }
            )
    data = {"score": scored.total, "output": f"Status: {scored.status}", "output_format": "md", "tests": tests}
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def _task_output(section: list[str], number: int) -> str:
    start = next(i for i, line in enumerate(section) if line.startswith(f"### Task {number} "))
    end = next((i for i in range(start + 1, len(section)) if section[i].startswith("### Task ")), len(section))
    return "\n".join(section[start + 1 : end]).strip() + "\n"


def results_json(info: dict[str, Any], scores: list[StudentScore], records: dict[str, GradingRecord]) -> dict[str, Any]:
    """Everything, for regrade disputes: per student, exercise, task and check the outcome and evidence."""
    students = []
    for s in scores:
        record = records[s.student]
        students.append(
            {
                "student": s.student,
                "total": s.total,
                "points": s.points,
                "status": s.status,
                "submission": record.submission,
                "notes": list(s.notes),
                "exercises": [_exercise_json(e, record.exercises.get(e.id)) for e in s.exercises],
            }
        )
    return {
        "version": state.STATE_VERSION,
        "workbook": info["workbook"],
        "settings": info["settings"],
        "warnings": info.get("warnings", []),
        "exercises": info["exercises"],
        "students": students,
    }


def _exercise_json(e: ExerciseScore, run: ExerciseRun | None) -> dict[str, Any]:
    return {
        "id": e.id,
        "score": e.score,
        "points": e.points,
        "run_status": e.run_status.value,
        "message": e.message,
        "files": list(run.files) if run is not None else [],
        "learning": e.learning.to_json() if e.learning is not None else None,
        "tasks": [
            {
                "number": t.number,
                "points": t.points,
                "score": t.score,
                "reason": t.reason,
                "items": [
                    {
                        "name": i.name,
                        "kind": i.kind,
                        "guard": i.guard,
                        "outcome": i.outcome,
                        "passed": i.passed,
                        "message": i.message,
                        "evidence": dict(i.evidence),
                    }
                    for i in t.items
                ],
            }
            for t in e.tasks
        ],
    }
