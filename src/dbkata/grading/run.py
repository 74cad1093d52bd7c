"""Run one submission: each exercise assembled on a pristine tree, in the sandbox, on its own databases.

The result is a typed grading record (:mod:`dbkata.grading.record`; no timings in the graded part,
messages normalised), so that grading the same submission twice, or resuming after a kill, gives the
same grades, and byte-identical outputs except for what a failed concurrency check saw happen in its
run (which of two racing requests lost its update), which it reports as it was. A code-task run's
report is checked against the ids the workbook expects
(:mod:`dbkata.grading.expect`); the student-written test files never take part in that run.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg

from dbkata.app.launcher import AppSandbox
from dbkata.assemble import assemble_app, assemble_harness, assemble_student_test
from dbkata.catalog import Catalog, ExerciseSpec
from dbkata.grading.collect import Submission
from dbkata.grading.database import GradingDatabase, InfrastructureFault, SubmissionRole
from dbkata.grading.expect import (
    Expectations,
    Expected,
    code_task_run,
    student_test_targets,
)
from dbkata.grading.learning import with_learning
from dbkata.grading.record import ExerciseRun, GradingRecord, StudentTestRun, TestRunOutcome
from dbkata.grading.sandbox import Limits, Slot
from dbkata.report import Evidence, Outcome, Status, TestResult
from dbkata.runner import RunResult, run_split, run_tree

MESSAGE_LIMIT = 4000
_NORMALISE = [
    (re.compile(r"postgresql(\+\w+)?://\S+?(?=[\s'\")]|$)"), "postgresql://…"),
    (re.compile(r"\bdbkg_[0-9a-f]+_\d+_\d+\b"), "dbkg_…"),
    (re.compile(r"\bdbk_(?:build_|tpl_)?[0-9a-f_]+\b"), "dbk_…"),
    (re.compile(r"\b0x[0-9a-fA-F]{6,}\b"), "0x…"),
    (re.compile(r"\bpid \d+\b"), "pid …"),
]


@dataclass(frozen=True)
class RunSettings:
    """How each submission is run."""

    limits: Limits = field(default_factory=Limits)
    submission_timeout: float = 600.0
    no_network: bool = False
    read_only: tuple[str, ...] = ()  # what the code may read besides its run folder (the db socket folder)
    trust_submissions: bool = False  # grade even where the sandbox cannot isolate the code
    calibrate: bool = False  # scale the time limits from a graded run of the reference (dbkata.grading.calibrate)
    timeouts: Mapping[str, float] = field(default_factory=dict)  # calibrated: exercise id -> limits.timeout

    def limits_for(self, exercise: str) -> Limits:
        """The limits of one exercise's runs: the calibrated timeout where there is one, else ``limits``'s."""
        timeout = self.timeouts.get(exercise)
        return self.limits if timeout is None else replace(self.limits, timeout=timeout)


@dataclass
class _Context:
    catalog: Catalog
    slot: Slot
    db: GradingDatabase
    role: SubmissionRole
    settings: RunSettings
    work: Path
    deadline: float
    counter: itertools.count[int]
    jobs: int = 1
    expected: Expectations | None = None
    timings: dict[str, list[float]] | None = None


def grade_submission(
    catalog: Catalog,
    specs: list[ExerciseSpec],
    sub: Submission,
    slot: Slot,
    db: GradingDatabase,
    settings: RunSettings,
    work: Path,
    jobs: int = 1,
    expected: Expectations | None = None,
    timings: dict[str, list[float]] | None = None,
) -> GradingRecord:
    """Grade the chosen exercises of one submission; every problem becomes part of the record.

    ``expected`` caches the ids each run must report across a batch (collected here when not given);
    ``timings``, when given, gets each run's wall seconds, by exercise (the calibration measures so).
    """
    exercises: dict[str, ExerciseRun] = {}
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o711)  # the slot's user reaches its run folder inside; nobody lists or reads the rest
    (work / "staged").mkdir(mode=0o700, exist_ok=True)  # the submission's files: read by the grader only
    staged = sub.stage(work / "staged")
    started = time.monotonic()
    role = _role(db)
    deadline = started + settings.submission_timeout
    expected = expected or Expectations(catalog)
    ctx = _Context(catalog, slot, db, role, settings, work, deadline, itertools.count(1), jobs, expected, timings)
    try:
        for spec in specs:
            exercises[spec.id] = with_learning(grade_exercise(ctx, spec, staged / spec.id), catalog, spec, sub)
    finally:
        slot.kill_all()
        _quietly(db.drop_role, role)
        shutil.rmtree(work, ignore_errors=True)
    seconds = round(time.monotonic() - started, 3)  # volatile: kept out of the outputs
    return GradingRecord(sub.student, sub.fingerprint(), tuple(sub.problems), exercises, seconds=seconds)


def _role(db: GradingDatabase) -> SubmissionRole:
    try:
        return db.create_role()
    except Exception:  # the server went away between submissions: one repair, then give up loudly
        db.repair()
        return db.create_role()


def grade_exercise(ctx: _Context, spec: ExerciseSpec, target: Path) -> ExerciseRun:
    """Run one exercise's tests and checks (and the student's own test, where a task grades it)."""
    files = sorted(n for n in spec.editable if (target / n).is_file())
    if not files:
        return ExerciseRun(Status.NOT_SUBMITTED)
    try:
        _quietly(ctx.db.make_room_for_templates, ctx.jobs + 2)
        return _grade_exercise(ctx, spec, target, files)
    finally:
        _quietly(ctx.db.drop_databases, ctx.role)  # its template and clones: one per job at a time at most


def _quietly(cleanup: Callable[..., None], *args: Any) -> None:
    """Housekeeping on the server; if the server is gone, the next run's orphan cleanup does it."""
    with contextlib.suppress(psycopg.Error, OSError, InfrastructureFault):
        cleanup(*args)


def _grade_exercise(ctx: _Context, spec: ExerciseSpec, target: Path, files: list[str]) -> ExerciseRun:
    result = _run_checked(ctx, spec, target, None, ())
    reported = result.status == Status.OK or (result.status == Status.TIMEOUT and bool(result.tests))
    expected = (ctx.expected or Expectations(ctx.catalog)).of(spec) if reported else Expected()
    tests = tuple(_test_entry(t, ctx) for t in result.tests)
    entry = code_task_run(expected, result.status, _clean(_explain(result), ctx), tuple(files), tests)
    if not entry.scorable:
        return entry
    student_tests = {t.number: _student_test(ctx, spec, target, t.student_test) for t in spec.tasks if t.student_test}
    return replace(entry, student_tests=student_tests)


def _student_test(ctx: _Context, spec: ExerciseSpec, target: Path, name: str) -> tuple[StudentTestRun, ...]:
    """The student's test file on every correct version (reference, ``good_*``), then on every flawed one.

    It must pass on each correct version first; once it fails on one, the rest would not change the score.
    Which of the student's functions failed is kept for the starter only: the student has its code anyway,
    while on the hidden versions the choice of failing functions is a channel a test could spell their
    code out through.
    """
    if not (target / name).is_file():
        return (StudentTestRun("solution", TestRunOutcome.NOT_SUBMITTED),)
    runs = []
    for label, code in student_test_targets(ctx.catalog, spec):
        source = (target / name).read_text(errors="replace")
        run = classify(label, _run_checked(ctx, spec, code, target, (name,)), source)
        if label != "starter":
            run = replace(run, failed=())
        runs.append(run)
        if run.correct_version and run.outcome != TestRunOutcome.PASSED:
            break
    return tuple(runs)


def _explain(result: RunResult) -> str | None:
    """The result's message; for a crash, with the last lines the run printed (why it died)."""
    if result.status != "crashed":
        return result.message
    message = result.message or "crashed"
    code = result.exit_code
    if code is not None and code < 0:
        message += f" (killed by signal {_signal_name(-code)})"
    elif code is not None and "wrote no report" in message:
        message += " (the process ended before pytest finished: os._exit(), or a crash in native code)"
    tail = [line for line in result.output.strip().splitlines() if line.strip()][-12:]
    return "\n".join([message, *(["last output:", *tail] if tail else [])])


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def classify(target: str, result: RunResult, source: str) -> StudentTestRun:
    """One run of a student's test: its outcome and which tests failed, never their messages.

    A failed test is named only by a function name written in the student's file (``source``): a name
    made up while the test ran (a parametrize id, a generated function) could carry the code it ran on.
    """
    if result.status != Status.OK:
        return StudentTestRun(target, TestRunOutcome.INCOMPLETE, result.status)
    if not result.tests:
        return StudentTestRun(target, TestRunOutcome.NO_TESTS)
    failed = tuple(sorted({_written_name(t.name, source) for t in result.failed()}))
    return StudentTestRun(target, TestRunOutcome.FAILED if failed else TestRunOutcome.PASSED, failed=failed)


def _written_name(name: str, source: str) -> str:
    function = name.split("[", 1)[0].rsplit("::", 1)[-1]
    written = re.search(rf"\bdef {re.escape(function)}\b", source) is not None
    return function if written and function.isidentifier() else "a test not written as a function"


def _run_checked(
    ctx: _Context, spec: ExerciseSpec, code: Path, tests_from: Path | None, selection: tuple[str, ...]
) -> RunResult:
    """One run, re-run when the server is at fault; a fault the grader cannot confirm is the run's own."""
    claimed = 0
    for _attempt in range(3):
        result = _run_once(ctx, spec, code, tests_from, selection)
        if result.status == Status.OK and not any(t.outcome == Outcome.ERROR for t in result.tests):
            return result
        try:
            ctx.db.check_health()
        except InfrastructureFault as fault:
            try:
                ctx.db.repair()
                ctx.db.ensure_role(ctx.role)
            except (InfrastructureFault, psycopg.Error) as second:
                return RunResult(Status.INFRASTRUCTURE_ERROR, message=f"{fault}; repair failed: {second}")
            continue
        if result.status != Status.INFRASTRUCTURE_ERROR:
            return result
        claimed += 1
        if claimed > 1:
            return RunResult(
                Status.CRASHED,
                message="the run reported a database failure, but the grader found the "
                f"server healthy: {result.message}",
            )
    return RunResult(Status.INFRASTRUCTURE_ERROR, message="the database server kept failing; gave up after 3 tries")


def _run_once(
    ctx: _Context, spec: ExerciseSpec, code: Path, tests_from: Path | None, selection: tuple[str, ...]
) -> RunResult:
    remaining = ctx.deadline - time.monotonic()
    if remaining <= 1:
        return RunResult(
            Status.NOT_RUN, message=f"the submission's time budget of {ctx.settings.submission_timeout:g} s was used up"
        )
    started = time.monotonic()
    try:
        if tests_from is None:
            return _run_split(ctx, spec, code, remaining)
        return _run_student_test(ctx, spec, code, tests_from, selection, remaining)
    finally:
        if ctx.timings is not None:
            ctx.timings.setdefault(spec.id, []).append(time.monotonic() - started)
        # What the run's code stored in its role's settings (or owns in the server's own database) is
        # undone before the next run: nothing crosses from one run, or one exercise, to the next.
        _quietly(ctx.db.ensure_role, ctx.role)


def _run_split(ctx: _Context, spec: ExerciseSpec, code: Path, remaining: float) -> RunResult:
    """A code-task run: the checks and the verdict in a trusted harness, the code in a sandboxed app process.

    The harness (pytest, as the grader's user) never imports the submission: its tree holds the
    pristine given files, the visible tests and the checks, and its report is written where the app's
    user cannot write. The app process (the slot's user, the sandbox) sees only the exercise's given
    modules and the submission's editable files, and is reached over unix sockets in a rendezvous
    folder that only it and the harness can enter.
    """
    n = next(ctx.counter)
    tree, app = ctx.work / f"run{n}", ctx.work / f"app{n}"
    folder = assemble_harness(ctx.catalog, spec, code, tree)
    assemble_app(ctx.catalog, spec, code, app)
    rendezvous = Path(tempfile.mkdtemp(prefix="dbkr-", dir="/tmp"))
    try:
        tree.chmod(0o700)
        ctx.slot.give(app)
        ctx.slot.give(rendezvous)
        limits = ctx.settings.limits_for(spec.id)
        limits = replace(limits, timeout=min(limits.timeout, remaining))
        app_env = ctx.slot.env(app, ctx.role.url)
        app_env.pop("DATABASE_URL")  # each test's app process gets its own test database's URL
        sandbox = AppSandbox(
            app_root=app,
            rendezvous=rendezvous,
            prefix=tuple(
                # Its own tree and the rendezvous folder, nothing else: not even the database server's
                # socket folder, so the database is reached only through the harness's relays; and so no
                # network either, even when the server itself is reached over TCP (the relays are).
                ctx.slot.prefix(limits, read_write=[app, rendezvous], no_network=True)
            ),
            env=app_env,
            call_timeout=limits.timeout,
            socket_mode=0o666 if ctx.slot.isolated else 0o600,
        )
        # Captured output is never echoed back: a submission that prints 1 GB cannot flood the log.
        return run_split(
            folder,
            sandbox,
            "--show-capture=no",
            str(folder),
            timeout=remaining,
            env=_harness_env(tree, ctx.role.url),
            output=_private_log(ctx.work / f"run{n}.log"),
        )
    finally:
        ctx.slot.kill_all()
        for path in (tree, app, rendezvous):
            shutil.rmtree(path, ignore_errors=True)


def _run_student_test(
    ctx: _Context, spec: ExerciseSpec, code: Path, tests_from: Path, selection: tuple[str, ...], remaining: float
) -> RunResult:
    """The student's own test file against one version of the code: all of it is student code, all sandboxed.

    Its outcome is the student's own test's verdict, so nothing is gained by forging it; the harness
    split is for the workbook's checks.
    """
    n = next(ctx.counter)
    tree = ctx.work / f"run{n}"
    folder = assemble_student_test(ctx.catalog, spec, code, tests_from, selection, tree)
    ctx.slot.give(tree)
    log = ctx.work / f"run{n}.log"
    log.touch(mode=0o600)  # the run's output is the grader's alone
    log.chmod(0o600)
    limits = ctx.settings.limits_for(spec.id)
    timeout = min(limits.timeout, remaining)
    limits = replace(limits, timeout=timeout)
    try:
        targets = [str(folder / s) for s in selection]
        return run_tree(
            folder,
            "--show-capture=no",
            *targets,
            timeout=timeout,
            env=ctx.slot.env(tree, ctx.role.url),
            prefix=ctx.slot.prefix(
                limits, read_only=ctx.settings.read_only, read_write=[tree], no_network=ctx.settings.no_network
            ),
            output=log,
        )
    finally:
        ctx.slot.kill_all()
        shutil.rmtree(tree, ignore_errors=True)


def _harness_env(tree: Path, database_url: str) -> dict[str, str]:
    """The trusted harness's environment: the grader's Python, the submission's database role, nothing else."""
    (tree / "tmp").mkdir(exist_ok=True)
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tree),
        "TMPDIR": str(tree / "tmp"),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONHASHSEED": "0",
        "DATABASE_URL": database_url,
    }


def _private_log(path: Path) -> Path:
    """A run log only the grader can read (it may hold what the submission printed)."""
    path.touch(mode=0o600)
    path.chmod(0o600)
    return path


def _test_entry(test: TestResult, ctx: _Context) -> TestResult:
    """The record's copy of a test: normalised message and evidence, no duration."""
    evidence = Evidence(_clean_json(dict(test.evidence.entries), ctx))
    return replace(test, message=_clean(test.message, ctx), duration=0.0, evidence=evidence)


def _clean(text: str | None, ctx: _Context) -> str | None:
    """Deterministic text: no run folders, role or database names, object addresses; bounded length."""
    if text is None:
        return None
    text = text.replace(str(ctx.work), "<run>")
    for pattern, repl in _NORMALISE:
        text = pattern.sub(repl, text)
    text = re.sub(r"<run>/run\d+", "<workbook>", text)
    return text if len(text) <= MESSAGE_LIMIT else "…" + text[-MESSAGE_LIMIT:]


def _clean_json(value: Any, ctx: _Context) -> Any:
    if isinstance(value, str):
        return _clean(value, ctx)
    if isinstance(value, dict):
        return {str(k): _clean_json(v, ctx) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(v, ctx) for v in value]
    return value
