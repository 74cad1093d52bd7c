"""``python -m dbkata``: verify the workbook, and manage the embedded test server."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dbkata.catalog import CatalogError, load_catalog
from dbkata.selfcheck import selfcheck_all
from dbkata.server import EmbeddedServer


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one subcommand; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m dbkata", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("selfcheck", help="solutions pass, starters fail, known-bad variants are caught")
    check.add_argument("--exercise", action="append", metavar="ID", help="only this exercise (repeatable)")
    check.add_argument("--root", type=Path, default=Path.cwd(), help="the workbook (default: here)")
    check.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run everything N times and also report any outcome that changed between runs",
    )
    comp = sub.add_parser("compare", help="for TAs: a graded submission next to the reference, code and behaviour")
    comp.add_argument("graded", type=Path, help="the output folder grade.py wrote (--out)")
    comp.add_argument("entry", type=Path, help="the student's submission entry (folder, .zip or .tar.gz)")
    comp.add_argument("--exercise", required=True, metavar="ID")
    comp.add_argument("--root", type=Path, default=Path.cwd(), help="the workbook (default: here)")
    server = sub.add_parser("server", help="the embedded PostgreSQL used by the tests")
    server.add_argument("action", choices=["status", "stop", "reset"])
    args = parser.parse_args(argv)
    if args.command == "server":
        return _server(args.action)
    if args.command == "compare":
        return _compare(args.root, args.graded, args.entry, args.exercise)
    return selfcheck(args.root, args.exercise, args.repeat)


def selfcheck(root: Path, only: list[str] | None, repeat: int = 1) -> int:
    """Run the self-check (``repeat`` times); print violations, unstable outcomes and a summary line."""
    try:
        catalog = load_catalog(root)
        specs = [catalog.get(i) for i in only] if only else list(catalog.exercises)
    except CatalogError as exc:
        print(f"selfcheck: {exc}", file=sys.stderr)
        return 2
    server = EmbeddedServer()
    server.acquire()  # one server start for every subprocess below (they attach in milliseconds)
    try:
        runs = [selfcheck_all(catalog, specs, _say) for _ in range(max(1, repeat))]
    finally:
        server.release()
    verdicts = runs[0]
    bad = [v for v in verdicts if not v.ok]
    for v in bad:
        print(v.line())
    unstable = sorted(
        {
            f"{v.exercise} · {v.target}: {v.expectation}"
            for run in runs[1:]
            for v in run
            if (v.exercise, v.target, v.expectation, v.ok)
            not in {(w.exercise, w.target, w.expectation, w.ok) for w in verdicts}
        }
    )
    for line in unstable:
        print(f"UNSTABLE {line} (its outcome changed between runs)")
    print(
        f"selfcheck: {len(specs)} exercise(s), {len(verdicts)} expectation(s), {len(bad)} violated"
        + (f", {len(unstable)} unstable over {repeat} runs" if repeat > 1 else "")
    )
    return 1 if bad or unstable else 0


def _say(line: str) -> None:
    print(line, flush=True)


def _compare(root: Path, graded: Path, entry: Path, exercise: str) -> int:
    from dbkata.compare import CompareError, compare, find_spec

    try:
        catalog = load_catalog(root)
        print(compare(catalog, find_spec(catalog, exercise), graded, entry), end="")
    except (CatalogError, CompareError) as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return 2
    return 0


def _server(action: str) -> int:
    server = EmbeddedServer()
    if action == "stop":
        server.stop()
    elif action == "reset":
        server.reset()
    print(server.status())
    return 0


if __name__ == "__main__":
    sys.exit(main())
