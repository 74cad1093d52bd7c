"""Grade a class of dbkata submissions (the instructor guide in README.md explains every option).

python grade.py SUBMISSIONS --out OUT [--jobs N] [--force] [--only ID] [--exercise ID] [--shard K/N]
python grade.py merge OUT1 OUT2 ... --out OUT
python grade.py selfcheck [--exercise ID]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dbkata.catalog import CatalogError, load_catalog
from dbkata.grading import BatchOptions, Limits, RunSettings, grade_batch, merge
from dbkata.grading.feedback import LEVELS

HERE = Path(__file__).resolve().parent


def shard(text: str) -> tuple[int, int]:
    """``K/N`` with 1 <= K <= N."""
    k, _, n = text.partition("/")
    if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise argparse.ArgumentTypeError("use K/N with 1 <= K <= N, e.g. --shard 2/4")
    return int(k), int(n)


def grade(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="grade.py", description="Grade a folder of submissions.")
    p.add_argument("submissions", type=Path, help="one folder, .zip or .tar.gz per student, named by id")
    p.add_argument("--out", type=Path, required=True, help="output folder (resumed if it exists)")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (default 1)")
    p.add_argument("--force", action="store_true", help="grade again what is already graded")
    p.add_argument("--only", action="append", default=[], metavar="STUDENT", help="grade (again) only these")
    p.add_argument("--exercise", action="append", default=[], metavar="ID", help="grade (again) only these")
    p.add_argument("--shard", type=shard, help="grade slice K of N (stable by student id)")
    p.add_argument("--timeout", type=float, default=120, help="wall seconds per exercise run (default 120)")
    p.add_argument("--submission-timeout", type=float, default=900, help="wall seconds per submission")
    p.add_argument("--memory", type=int, default=2048, help="MB of address space per process (default 2048)")
    p.add_argument("--feedback", choices=LEVELS, default="messages", help="how much students see of checks")
    p.add_argument("--workbook", type=Path, default=HERE, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    catalog = load_catalog(a.workbook)
    for ex in a.exercise:
        catalog.get(ex)
    settings = RunSettings(Limits(timeout=a.timeout, memory_mb=a.memory), a.submission_timeout, no_network=True)
    options = BatchOptions(
        a.submissions, a.out, a.jobs, a.force, tuple(a.only), tuple(a.exercise), a.shard, settings, a.feedback
    )
    problems = grade_batch(catalog, options)
    print(f"outputs written to {a.out}" + (f" ({problems} student(s) need attention)" if problems else ""))
    return 0


def merge_cmd(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="grade.py merge", description="Combine shard outputs into one.")
    p.add_argument("inputs", type=Path, nargs="+", help="output folders of shard runs")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--feedback", choices=LEVELS, default="messages")
    p.add_argument("--workbook", type=Path, default=HERE, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    merge(a.inputs, a.out, a.feedback)
    print(f"merged {len(a.inputs)} folder(s) into {a.out}")
    return 0


def selfcheck(argv: list[str]) -> int:
    from dbkata.selfcheck import selfcheck_exercise

    p = argparse.ArgumentParser(prog="grade.py selfcheck", description="Verify the workbook itself.")
    p.add_argument("--exercise", action="append", default=[], metavar="ID")
    p.add_argument("--workbook", type=Path, default=HERE, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    catalog = load_catalog(a.workbook)
    specs = [catalog.get(i) for i in a.exercise] or list(catalog.exercises)
    verdicts = [v for spec in specs for v in selfcheck_exercise(catalog, spec)]
    bad = [v for v in verdicts if not v.ok]
    for v in bad:
        print(v.line())
    print(
        f"selfcheck: {len(verdicts) - len(bad)} of {len(verdicts)} expectations hold in {len(specs)} exercise(s)"
        + (f"; {len(bad)} violation(s)" if bad else "")
    )
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    command = {"merge": merge_cmd, "selfcheck": selfcheck}.get(argv[0] if argv else "")
    try:
        return command(argv[1:]) if command else grade(argv)
    except (CatalogError, ValueError) as exc:
        print(f"grade.py: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
