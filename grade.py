"""Grade a class of dbkata submissions (the instructor guide in README.md explains every option).

python grade.py SUBMISSIONS --out OUT [--jobs N] [--force] [--only ID] [--exercise ID] [--shard K/N]
python grade.py merge OUT1 OUT2 ... --out OUT
python grade.py selfcheck [--exercise ID]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from dbkata.catalog import CatalogError, load_catalog
from dbkata.grading import BatchOptions, Limits, RunSettings, grade_batch, merge
from dbkata.grading.collect import parse_shard
from dbkata.grading.feedback import LEVELS
from dbkata.grading.outputs import OUTPUT_UMASK
from dbkata.grading.verify import verify

HERE = Path(__file__).resolve().parent


def grade(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="grade.py", description="Grade a folder of submissions.")
    p.add_argument("submissions", type=Path, help="one folder, .zip or .tar.gz per student, named by id")
    p.add_argument("--out", type=Path, required=True, help="output folder (resumed if it exists)")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (default 1)")
    p.add_argument("--force", action="store_true", help="grade again what is already graded")
    p.add_argument("--only", action="append", default=[], metavar="STUDENT", help="grade (again) only these")
    p.add_argument("--exercise", action="append", default=[], metavar="ID", help="grade (again) only these")
    p.add_argument("--shard", type=parse_shard, help="grade slice K of N (stable by student id)")
    p.add_argument("--timeout", type=float, default=120, help="wall seconds per exercise run (default 120)")
    p.add_argument("--submission-timeout", type=float, default=900, help="wall seconds per submission")
    p.add_argument("--memory", type=int, default=2048, help="MB of address space per process (default 2048)")
    p.add_argument("--file-size", type=int, default=64, help="MB per file (and captured output) a run may write")
    p.add_argument("--trust-submissions", action="store_true", help="grade even where submissions cannot be sandboxed")
    p.add_argument("--feedback", choices=LEVELS, default="messages", help="how much students see of checks")
    p.add_argument("--umask", type=octal, default=OUTPUT_UMASK, help="of the outputs (default 027: 0640/0750)")
    p.add_argument("--workbook", type=Path, default=HERE, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    catalog = load_catalog(a.workbook)
    [catalog.get(ex) for ex in a.exercise]  # an unknown id fails here, naming the known ones
    limits = Limits(timeout=a.timeout, memory_mb=a.memory, file_size_mb=a.file_size)
    settings = RunSettings(limits, a.submission_timeout, no_network=True, trust_submissions=a.trust_submissions)
    options = BatchOptions(
        a.submissions, a.out, a.jobs, a.force, tuple(a.only), tuple(a.exercise), a.shard, settings, a.feedback, a.umask
    )
    return report(grade_batch(catalog, options), a.out)


def octal(text: str) -> int:
    return int(text, 8)


def report(statuses: Counter[str], out: Path) -> int:
    """One line; exit 3 while some student could not be graded for infrastructure reasons (run again)."""
    print(f"outputs written to {out}: " + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())))
    return 3 if statuses["infrastructure_error"] else 0


def merge_cmd(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="grade.py merge", description="Combine shard outputs into one.")
    p.add_argument("inputs", type=Path, nargs="+", help="output folders of shard runs")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--feedback", choices=LEVELS, default="messages")
    p.add_argument("--umask", type=octal, default=OUTPUT_UMASK, help="of the outputs (default 027: 0640/0750)")
    p.add_argument("--workbook", type=Path, default=HERE, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    return report(merge(a.inputs, a.out, a.feedback, a.umask), a.out)


def selfcheck(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="grade.py selfcheck", description="Verify the workbook itself.")
    p.add_argument("--exercise", action="append", default=[], metavar="ID")
    p.add_argument("--workbook", type=Path, default=HERE, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    verdicts, summary = verify(load_catalog(a.workbook), a.exercise)
    print(*[v.line() for v in verdicts if not v.ok], summary, sep="\n")
    return 0 if all(v.ok for v in verdicts) else 1


def main(argv: list[str]) -> int:
    command = {"merge": merge_cmd, "selfcheck": selfcheck}.get(argv[0] if argv else "")
    try:
        return command(argv[1:]) if command else grade(argv)
    except (CatalogError, ValueError) as exc:
        print(f"grade.py: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
