"""Subcommands for instructors, TAs and authors: grade, merge, selfcheck, compare, release, server."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from dbkata.catalog import load_catalog
from dbkata.cli.common import Adder, CliError
from dbkata.grading.feedback import LEVELS
from dbkata.grading.outputs import OUTPUT_UMASK

CALL_FLOOR = 120.0  # seconds per call and per student-test run, the least a calibration gives
SUBMISSION_FLOOR = 900.0  # seconds per submission, likewise
_UMASK_HELP = "umask of the outputs, octal (default 027: files 0640, folders 0750)"


def add_commands(add: Adder) -> None:
    """Register this module's subcommands."""
    _add_grade(add("grade", "grade a folder of submissions (one entry per student)", grade))
    p = add("merge", "combine the output folders of --shard runs into one", merge)
    p.add_argument("inputs", type=Path, nargs="+", help="output folders of shard runs")
    p.add_argument("--out", type=Path, required=True, help="the merged output folder")
    p.add_argument("--feedback", choices=LEVELS, default="messages", help="how much students see of checks")
    p.add_argument("--umask", type=_octal, default=OUTPUT_UMASK, help=_UMASK_HELP)
    p = add("selfcheck", "verify the workbook: solutions pass, starters fail, known-bad variants are caught", selfcheck)
    p.add_argument("--exercise", action="append", default=[], metavar="ID", help="only this exercise (repeatable)")
    p.add_argument("--repeat", type=int, default=1, metavar="N", help="run N times; report outcomes that changed")
    p.add_argument("--root", dest="workbook", type=Path, help=argparse.SUPPRESS)  # the former spelling
    p = add("compare", "for TAs: a graded submission next to the reference, code and behaviour", compare)
    p.add_argument("graded", type=Path, help="the output folder grade wrote (--out)")
    p.add_argument("entry", type=Path, help="the student's submission entry (folder, .zip or .tar.gz)")
    p.add_argument("--exercise", required=True, metavar="ID")
    p.add_argument("--root", dest="workbook", type=Path, help=argparse.SUPPRESS)
    p = add("release", "build the student distribution (no solutions, checks or variants) in OUT", release)
    p.add_argument("out", type=Path, help="the folder to create (must not exist)")
    p.add_argument("--with-solutions", action="store_true", help="include solutions/ (after the deadline)")
    p = add("server", "the embedded PostgreSQL the tests use: start, status, stop, reset", server)
    p.add_argument("action", choices=["start", "status", "stop", "reset"])


def _add_grade(p: argparse.ArgumentParser) -> None:
    from dbkata.grading.collect import parse_shard

    p.add_argument("submissions", type=Path, help="one folder, .zip or .tar.gz per student, named by id")
    p.add_argument("--out", type=Path, required=True, help="output folder (resumed if it exists)")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (default 1)")
    p.add_argument("--force", action="store_true", help="grade again what is already graded")
    p.add_argument("--only", action="append", default=[], metavar="STUDENT", help="grade (again) only these")
    p.add_argument("--exercise", action="append", default=[], metavar="ID", help="grade (again) only these")
    p.add_argument("--shard", type=parse_shard, help="grade slice K of N (stable by student id)")
    p.add_argument(
        "--timeout",
        type=float,
        help="fixed wall seconds per call to the code and per student-test run (default: calibrated on this "
        f"machine from a graded run of the reference, at least {CALL_FLOOR:g})",
    )
    p.add_argument(
        "--submission-timeout",
        type=float,
        default=SUBMISSION_FLOOR,
        help=f"wall seconds per submission (default {SUBMISSION_FLOOR:g}, or more where the calibration says so)",
    )
    p.add_argument("--memory", type=int, default=2048, help="MB of address space per process (default 2048)")
    p.add_argument("--file-size", type=int, default=64, help="MB per file (and captured output) a run may write")
    p.add_argument("--trust-submissions", action="store_true", help="grade even where submissions cannot be sandboxed")
    p.add_argument("--feedback", choices=LEVELS, default="messages", help="how much students see of checks")
    p.add_argument("--umask", type=_octal, default=OUTPUT_UMASK, help=_UMASK_HELP)


def _octal(text: str) -> int:
    return int(text, 8)


def grade(a: argparse.Namespace) -> int:
    """Grade a class; one closing line; exit 3 while a student could not be graded for infrastructure reasons."""
    from dbkata.grading import BatchOptions, Limits, RunSettings, grade_batch

    catalog = load_catalog(a.workbook)
    for ex in a.exercise:
        catalog.get(ex)  # an unknown id fails here, naming the known ones
    timeout = CALL_FLOOR if a.timeout is None else a.timeout
    limits = Limits(timeout=timeout, memory_mb=a.memory, file_size_mb=a.file_size)
    settings = RunSettings(
        limits,
        a.submission_timeout,
        no_network=True,
        trust_submissions=a.trust_submissions,
        calibrate=a.timeout is None,  # no --timeout: scale the limits from the reference on this machine
    )
    options = BatchOptions(
        a.submissions, a.out, a.jobs, a.force, tuple(a.only), tuple(a.exercise), a.shard, settings, a.feedback, a.umask
    )
    return _report(grade_batch(catalog, options), a.out)


def merge(a: argparse.Namespace) -> int:
    """Merge shard outputs into one folder."""
    from dbkata.grading import merge as merge_outputs

    return _report(merge_outputs(a.inputs, a.out, a.feedback, a.umask), a.out)


def _report(statuses: Counter[str], out: Path) -> int:
    print(f"outputs written to {out}: " + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())))
    return 3 if statuses["infrastructure_error"] else 0


def selfcheck(a: argparse.Namespace) -> int:
    """The one self-check: a line per exercise as it is done, each violation, a summary line."""
    from dbkata.grading.verify import verify

    verdicts, unstable, summary = verify(load_catalog(a.workbook), a.exercise, _say, a.repeat)
    print(*[v.line() for v in verdicts if not v.ok], *unstable, summary, sep="\n")
    return 0 if all(v.ok for v in verdicts) and not unstable else 1


def _say(line: str) -> None:
    print(line, flush=True)


def compare(a: argparse.Namespace) -> int:
    """Print the Markdown comparison of one graded submission with the reference."""
    from dbkata.compare import CompareError, find_spec
    from dbkata.compare import compare as compare_report

    catalog = load_catalog(a.workbook)
    try:
        print(compare_report(catalog, find_spec(catalog, a.exercise), a.graded, a.entry), end="")
    except CompareError as exc:
        raise CliError(str(exc)) from exc
    return 0


def release(a: argparse.Namespace) -> int:
    """Build the student distribution and say what it holds."""
    from dbkata.release import build_release

    summary = build_release(load_catalog(a.workbook), a.out, with_solutions=a.with_solutions)
    print(summary.line())
    return 0


def server(a: argparse.Namespace) -> int:
    """Manage the embedded server; always end with its status line."""
    from dbkata.server import EmbeddedServer, ServerError

    srv = EmbeddedServer()
    try:
        if a.action == "start":
            srv.acquire()
            srv.release(keep_running=True)  # running, with no client: the next run attaches in milliseconds
        elif a.action == "stop":
            srv.stop()
        elif a.action == "reset":
            srv.reset()
    except ServerError as exc:
        raise CliError(
            f"{exc} (`dbkata server reset` deletes the test cluster; it is rebuilt on the next run)"
        ) from exc
    print(srv.status())
    return 0
