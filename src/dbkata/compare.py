"""For TAs: one submission next to the reference solution — code diff, then database behaviour per check.

The student's side comes from a graded output folder (``grade.py ... --out OUT``): their code already
ran there, sandboxed, and its evidence was kept. Only the reference solution, which is trusted, is run
here. The submission entry is read again for the code diff, and its fingerprint must match what was
graded, so the two halves always describe the same code.
"""

from __future__ import annotations

import difflib
import json
import tempfile
from pathlib import Path
from typing import Any

from dbkata.assemble import assemble
from dbkata.catalog import Catalog, CatalogError, ExerciseSpec
from dbkata.grading import collect
from dbkata.report import TestResult
from dbkata.runner import run_tree


class CompareError(ValueError):
    """The inputs do not fit together; the message says what to do."""


def compare(catalog: Catalog, spec: ExerciseSpec, graded: Path, entry: Path) -> str:
    """A Markdown report: the submission's editable files against the reference, then check by check."""
    submission = collect.load(entry, catalog)
    record = _graded_record(graded, submission.student, submission.fingerprint())
    exercise = next((e for e in record["exercises"] if e["id"] == spec.id), None)
    if exercise is None:
        raise CompareError(f"{graded} has no result for {spec.id}; grade it with --exercise {spec.id}")
    reference = _reference_items(catalog, spec)
    lines = [f"# {submission.student} · {spec.id}: submission and reference side by side", ""]
    lines += [f"Score {exercise['score']:g} / {exercise['points']:g} (run: {exercise['run_status']}).", ""]
    lines += _code_diff(catalog, spec, submission.files, submission.student)
    lines += _behaviour(exercise, reference, submission.student)
    return "\n".join(lines) + "\n"


def _graded_record(graded: Path, student: str, fingerprint: str) -> dict[str, Any]:
    try:
        results = json.loads((graded / "results.json").read_text())
    except (OSError, ValueError) as exc:
        raise CompareError(f"cannot read {graded / 'results.json'} ({exc}); run grade.py with --out {graded}") from exc
    record = next((s for s in results.get("students", []) if s["student"] == student), None)
    if record is None:
        raise CompareError(f"{student} is not graded in {graded}; run grade.py with --only {student}")
    if record.get("submission") != fingerprint:
        raise CompareError(f"{student}'s files changed since {graded} was graded; grade again with --only {student}")
    return dict(record)


def _reference_items(catalog: Catalog, spec: ExerciseSpec) -> dict[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="dbkata-compare-") as tmp:
        result = run_tree(assemble(catalog, spec, catalog.solution_dir(spec), Path(tmp) / "reference"))
    if result.status != "ok":
        raise CompareError(f"the reference solution did not run ({result.status}: {result.message})")
    return {t.name: _as_item(t) for t in result.tests}


def _as_item(test: TestResult) -> dict[str, Any]:
    """A reference test in the form results.json gives the student's (evidence as its entries)."""
    return {**test.to_json(), "evidence": dict(test.evidence.entries)}


def _code_diff(catalog: Catalog, spec: ExerciseSpec, files: dict[str, bytes], student: str) -> list[str]:
    lines = ["## Code", ""]
    for name in spec.editable:
        ours = (catalog.solution_dir(spec) / name).read_text().splitlines()
        raw = files.get(f"{spec.id}/{name}")
        theirs = raw.decode(errors="replace").splitlines() if raw is not None else None
        if theirs is None:
            lines += [f"`{name}`: not in the submission (graded as the starter's).", ""]
            continue
        diff = list(difflib.unified_diff(ours, theirs, f"reference/{name}", f"{student}/{name}", lineterm=""))
        lines += [f"`{name}`: same as the reference.", ""] if not diff else ["```diff", *diff, "```", ""]
    return lines


def _behaviour(exercise: dict[str, Any], reference: dict[str, dict[str, Any]], student: str) -> list[str]:
    lines = [
        "## Behaviour, check by check",
        "",
        f"| task | test or check | reference | {student} |",
        "|---|---|---|---|",
    ]
    details: list[str] = []
    for task in exercise["tasks"]:
        for item in task["items"]:
            ref = reference.get(item["name"], {})
            lines.append(
                f"| {task['number']} | `{item['name']}` ({item['kind']}) | {ref.get('outcome', '—')} "
                f"| {item['outcome']} |"
            )
            details += _evidence(item, ref, student)
    return [*lines, "", *details]


def _evidence(item: dict[str, Any], ref: dict[str, Any], student: str) -> list[str]:
    theirs, ours = item.get("evidence") or {}, ref.get("evidence") or {}
    if item.get("outcome") == ref.get("outcome") and theirs == ours:
        return []  # nothing to tell apart
    lines = [f"### `{item['name']}`", ""]
    if item.get("message") and not item.get("passed"):
        lines += ["```", str(item["message"]).strip(), "```", ""]
    if theirs or ours:
        lines += [f"| evidence | reference | {student} |", "|---|---|---|"]
        lines += [
            f"| {key} | {_cell(ours.get(key))} | {_cell(theirs.get(key))} |" for key in sorted(set(ours) | set(theirs))
        ]
        lines.append("")
    return lines


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return (text if len(text) <= 300 else text[:299] + "…").replace("|", "\\|")


def find_spec(catalog: Catalog, exercise_id: str) -> ExerciseSpec:
    """The exercise, or a CompareError listing the ids."""
    try:
        return catalog.get(exercise_id)
    except CatalogError as exc:
        raise CompareError(str(exc)) from exc
