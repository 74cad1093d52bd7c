"""Grade a folder of submissions: plan what is left to do, run it in parallel slots, write the outputs.

Resumable by construction: each student's record is written atomically when the student is done, and
an exercise of a student is graded again only if it is missing from the record, the record is stale
(the workbook or the settings changed), that exercise's files changed (``fingerprint_of``: a student
who resubmits one exercise keeps the grades of the others), it ended with an infrastructure error, or
the instructor asked: ``force`` (everything selected), ``only`` (the named students). ``exercises`` and
``shard`` only narrow the selection. The workbook graded against is the committed one
(:mod:`dbkata.grading.workbook`).
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import psutil

from dbkata.catalog import Catalog, ExerciseSpec
from dbkata.grading import calibrate, collect, state
from dbkata.grading.database import GradingDatabase
from dbkata.grading.expect import Expectations
from dbkata.grading.outputs import OUTPUT_UMASK, write_outputs
from dbkata.grading.progress import Progress
from dbkata.grading.record import ExerciseRun, GradingRecord
from dbkata.grading.run import RunSettings, grade_submission
from dbkata.grading.sandbox import Slot, isolation_available, isolation_problem, make_slots
from dbkata.grading.score import score_student
from dbkata.grading.workbook import committed_workbook
from dbkata.report import Status

_WORK_PREFIX = "dbkata-grade-"
_CALIBRATION_BUDGET = 4 * 3600.0  # the reference's own run: trusted code, stopped only by the per-call limit
ISOLATED = "sandboxed: namespaces, allow-list"
TRUSTED = "submissions were trusted: not isolated"


@dataclass(frozen=True)
class BatchOptions:
    """What to grade and how."""

    submissions: Path
    out: Path
    jobs: int = 1
    force: bool = False
    only: tuple[str, ...] = ()
    exercises: tuple[str, ...] = ()
    shard: tuple[int, int] | None = None
    settings: RunSettings = field(default_factory=RunSettings)
    feedback: str = "messages"
    umask: int = OUTPUT_UMASK  # modes of the outputs (run folders and logs stay private whatever it is)


@dataclass(frozen=True)
class _Todo:
    submission: collect.Submission
    exercises: tuple[str, ...]


def grade_batch(catalog: Catalog, options: BatchOptions, progress: Progress | None = None) -> Counter[str]:
    """Grade what is left to grade, then write every output; return how many students have each status.

    Refuses (ValueError) where the sandbox cannot isolate submissions, unless they are trusted.
    """
    if not options.submissions.is_dir():
        raise ValueError(
            f"no submissions folder at {options.submissions} "
            "(give the folder that holds one folder, .zip or .tar.gz per student)"
        )
    if not options.settings.trust_submissions and not isolation_available():
        raise ValueError(
            f"submissions cannot be isolated on this machine ({isolation_problem()}); grading untrusted code "
            "needs --trust-submissions (the outputs then say so)"
        )
    progress = progress or Progress()
    progress.note(f"reading the committed workbook, then the submissions in {options.submissions}")
    snapshot = Path(tempfile.mkdtemp(prefix=f"{_WORK_PREFIX}{os.getpid()}-workbook-"))
    try:
        committed, warnings = committed_workbook(catalog, snapshot / "workbook")
        return _grade_batch(committed, catalog.root, warnings, options, progress)
    finally:
        shutil.rmtree(snapshot, ignore_errors=True)


def _grade_batch(
    catalog: Catalog, source: Path, warnings: tuple[str, ...], options: BatchOptions, progress: Progress
) -> Counter[str]:
    entries, skipped = collect.find_entries(options.submissions)
    entries = [
        e
        for e in entries
        if collect.in_shard(collect.student_id(e), options.shard)
        and (not options.only or collect.student_id(e) in options.only)
    ]
    settings = _settings_json(options.settings)
    info = state.batch_info(catalog, settings, warnings)
    state.write_json(options.out / state.BATCH, info)
    todo = [t for t in (_plan(catalog, options, info, collect.load(e, catalog)) for e in entries) if t]
    if settings["isolation"] != ISOLATED:
        progress.note(f"isolation: {settings['isolation']}")
    for line in [*(f"warning: {w}" for w in warnings), *skipped]:
        progress.note(line)
    if todo:
        _run_all(catalog, options, info, todo, progress)
    else:
        progress.begin(0, 1)
    progress.close()
    return write_outputs(options.out, options.feedback, options.umask)


def _plan(catalog: Catalog, options: BatchOptions, info: dict[str, Any], sub: collect.Submission) -> _Todo | None:
    """Which exercises of this submission still need grading (none: resume skips it)."""
    ids = [s.id for s in catalog.exercises]
    chosen = tuple(i for i in ids if not options.exercises or i in options.exercises)
    record = state.read_record(options.out, sub.student)
    if record is None or not _current(record, info) or options.force or sub.student in options.only:
        return _Todo(sub, chosen)
    kept = _kept(record, sub)
    wanted = tuple(i for i in chosen if i not in kept or kept[i].status == Status.INFRASTRUCTURE_ERROR)
    return _Todo(sub, wanted) if wanted else None


def _current(record: GradingRecord, info: dict[str, Any]) -> bool:
    """Whether a stored record was graded with this workbook and these settings."""
    return bool(record.workbook == info["workbook"] and record.settings == info["settings"])


def _kept(record: GradingRecord, sub: collect.Submission) -> dict[str, ExerciseRun]:
    """The record's runs that still hold for the submission as it is now (its exercise's files unchanged)."""
    if record.submission == sub.fingerprint():
        return dict(record.exercises)
    return {k: run for k, run in record.exercises.items() if run.submitted == sub.fingerprint_of(k)}


def _run_all(
    catalog: Catalog,
    options: BatchOptions,
    info: dict[str, Any],
    todo: list[_Todo],
    progress: Progress,
) -> None:
    _remove_stale_work()
    db = GradingDatabase()
    db.start()
    settings = options.settings
    if settings.no_network and not db.socket_dir:  # a server reached over TCP needs the network
        settings = replace(settings, no_network=False)
        progress.note("network: shared with the host (the database is reached over TCP, not a unix socket)")
    if db.socket_dir:  # connecting needs no write access: the code cannot remove the server's socket
        settings = replace(settings, read_only=(*settings.read_only, db.socket_dir))
    slots: queue.Queue[Slot] = queue.Queue()
    for slot in make_slots(max(1, min(options.jobs, len(todo)))):
        slots.put(slot)
    work = Path(tempfile.mkdtemp(prefix=f"{_WORK_PREFIX}{os.getpid()}-"))
    work.chmod(0o711)  # slot users reach their own folders inside, nothing else
    specs = {s.id: s for s in catalog.exercises}
    expected = Expectations(catalog)
    try:
        settings_of = _calibrated(catalog, options, info, todo, (slots, db, settings, work, expected), progress)
        progress.begin(len(todo), max(1, min(options.jobs, len(todo))))
        with ThreadPoolExecutor(max(1, options.jobs)) as pool:
            futures = [
                pool.submit(
                    _grade_one, catalog, specs, t, slots, db, settings_of(t), work, options, info, progress, expected
                )
                for t in todo
            ]
            for future in futures:
                future.result()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        db.stop()


def _calibrated(
    catalog: Catalog,
    options: BatchOptions,
    info: dict[str, Any],
    todo: list[_Todo],
    grading: tuple[queue.Queue[Slot], GradingDatabase, RunSettings, Path, Expectations],
    progress: Progress,
) -> Callable[[_Todo], RunSettings]:
    """Each submission's settings: as given, or with the limits calibrated on this machine (``calibrate``)."""
    slots, db, settings, work, expected = grading
    if not settings.calibrate:
        return lambda _todo: settings
    wanted = sorted({e for t in todo for e in t.exercises})
    # What an earlier run measured for this workbook is reused (a resumed run keeps its limits); --force measures anew.
    found = calibrate.Calibration(info["workbook"]) if options.force else calibrate.load(options.out, info["workbook"])
    missing = found.missing(wanted)
    if missing:
        progress.note(f"calibrating the time limits: grading the reference solution of {len(missing)} exercise(s)")
        specs = {s.id: s for s in catalog.exercises}

        def measured(exercise: str, so_far: calibrate.Calibration) -> None:
            calibrate.save(options.out, so_far)  # kept at once: a killed calibration resumes from here
            progress.note(f"  the reference of {exercise} took {sum(so_far.runs[exercise]):.1f} s")

        slot = slots.get()
        try:
            found = calibrate.measure(
                catalog,
                [specs[e] for e in missing],
                found,
                lambda chosen, sub, timings: grade_submission(
                    catalog,
                    chosen,
                    sub,
                    slot,
                    db,
                    replace(settings, submission_timeout=_CALIBRATION_BUDGET),
                    work / "calibration",
                    options.jobs,
                    expected,
                    timings,
                ),
                measured,
            )
        finally:
            slots.put(slot)
    floor, budget = settings.limits.timeout, settings.submission_timeout
    progress.note(found.summary(wanted, floor, budget))
    timeouts = {e: found.timeout(e, floor) for e in wanted}
    return lambda t: replace(
        settings, timeouts=timeouts, submission_timeout=found.submission_timeout(t.exercises, budget)
    )


def _grade_one(
    catalog: Catalog,
    specs: dict[str, ExerciseSpec],
    todo: _Todo,
    slots: queue.Queue[Slot],
    db: GradingDatabase,
    settings: RunSettings,
    work: Path,
    options: BatchOptions,
    info: dict[str, Any],
    progress: Progress,
    expected: Expectations,
) -> None:
    sub = todo.submission
    progress.start(sub.student)
    slot = slots.get()
    chosen = [specs[i] for i in todo.exercises]
    folder = work / f"slot{slot.index}"
    try:
        fresh = grade_submission(catalog, chosen, sub, slot, db, settings, folder, options.jobs, expected)
    except Exception as exc:  # a grader fault (the server vanished mid-way...): retried next run, never a zero
        fresh = _unfinished(sub, chosen, f"the grader failed: {type(exc).__name__}: {exc}")
    finally:
        slots.put(slot)
    stamped = {k: replace(run, submitted=sub.fingerprint_of(k)) for k, run in fresh.exercises.items()}
    fresh = replace(fresh, exercises=stamped)
    record = _merge(state.read_record(options.out, sub.student), fresh, sub, info)
    state.write_record(options.out, record)
    scored = score_student(sub.student, list(specs.values()), record)
    total = "no total" if scored.total is None else f"{scored.total:g}/{scored.points:g}"
    progress.finish(sub.student, f"{total} ({scored.status})", ok=scored.status == "graded")


def _unfinished(sub: collect.Submission, chosen: list[ExerciseSpec], why: str) -> GradingRecord:
    """A record that marks the chosen exercises as not graded for infrastructure reasons."""
    runs = {spec.id: ExerciseRun(Status.INFRASTRUCTURE_ERROR, why) for spec in chosen}
    return GradingRecord(sub.student, sub.fingerprint(), tuple(sub.problems), runs)


def _merge(
    old: GradingRecord | None, fresh: GradingRecord, sub: collect.Submission, info: dict[str, Any]
) -> GradingRecord:
    """The fresh runs over the old record's that still hold (same workbook and settings, same files)."""
    record = replace(fresh, workbook=info["workbook"], settings=info["settings"])
    if old is not None and _current(old, info):
        runs = {**_kept(old, sub), **fresh.exercises}
        record = replace(record, exercises={k: runs[k] for k in sorted(runs)})
    return record


def _settings_json(settings: RunSettings) -> dict[str, Any]:
    data = asdict(settings)
    return {
        "limits": data["limits"],
        "submission_timeout": data["submission_timeout"],
        "no_network": data["no_network"],
        "calibrated": settings.calibrate,
        "isolation": ISOLATED if isolation_available() else TRUSTED,
    }


def _remove_stale_work() -> None:
    """Work folders of graders that were killed (``dbkata-grade-<pid>-...``)."""
    for path in Path(tempfile.gettempdir()).glob(f"{_WORK_PREFIX}*"):
        match = re.match(rf"{_WORK_PREFIX}(\d+)-", path.name)
        if match and not psutil.pid_exists(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)


def merge(inputs: list[Path], out: Path, feedback: str = "messages", umask: int = OUTPUT_UMASK) -> Counter[str]:
    """Combine the records of shard output folders into one output folder, then write its outputs."""
    infos = [state.read_batch(i) for i in inputs]
    if any(i is None for i in infos):
        missing = [str(p) for p, i in zip(inputs, infos, strict=True) if i is None]
        raise ValueError(f"not a grade.py output folder (no batch.json): {', '.join(missing)}")
    first = infos[0]
    assert first is not None
    for path, other in zip(inputs, infos, strict=True):
        if other != first:
            raise ValueError(f"{path} was graded with another workbook or other settings than {inputs[0]}")
    seen: dict[str, Path] = {}
    for path in inputs:
        for student, record in state.read_records(path).items():
            if student in seen and state.read_record(seen[student], student) != record:
                raise ValueError(f"{student} was graded differently in {seen[student]} and {path}")
            seen[student] = path
            state.write_record(out, record)
    state.write_json(out / state.BATCH, first)
    return write_outputs(out, feedback, umask)
