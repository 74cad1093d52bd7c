"""The ``dbkata`` command: one parser for students, instructors, TAs and authors.

``grade.py`` and ``python -m dbkata`` are thin front ends over :func:`main`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from dbkata.catalog import MANIFEST, CatalogError
from dbkata.cli import instructor, loop, reveal, student
from dbkata.cli.common import CliError, Handler


def build_parser(prog: str = "dbkata", workbook: Path | None = None) -> argparse.ArgumentParser:
    """The whole command line: every subcommand with its options."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="dbkata: an auto-graded workbook for async SQLAlchemy, FastAPI and PostgreSQL.",
        epilog="Students: pytest exercises/level2, then `dbkata status`. Instructors: docs/instructor.md.",
    )
    parser.set_defaults(workbook=workbook)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str, handler: Handler) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--workbook", type=Path, default=workbook, help=argparse.SUPPRESS)
        p.set_defaults(handler=handler)
        return p

    student.add_commands(add)
    loop.add_commands(add)
    reveal.add_commands(add)
    instructor.add_commands(add)
    return parser


def find_workbook(start: Path) -> Path:
    """The nearest folder at or above ``start`` holding ``exercises.toml``."""
    for folder in (start, *start.parents):
        if (folder / MANIFEST).is_file():
            return folder
    raise CliError(f"no {MANIFEST} in {start} or above: run dbkata inside the workbook (the folder you installed)")


def main(argv: Sequence[str] | None = None, prog: str = "dbkata", workbook: Path | None = None) -> int:
    """Parse ``argv`` and run one subcommand; return its exit code (2 for a refusal, printed in one line)."""
    parser = build_parser(prog, workbook)
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        if args.workbook is None and args.command != "server":  # the server needs no workbook
            args.workbook = find_workbook(Path.cwd())
        code: int = args.handler(args)
    except (CliError, CatalogError, ValueError, OSError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog} {args.command}: interrupted", file=sys.stderr)
        return 130
    return code


def with_default_command(argv: Sequence[str], command: str) -> list[str]:
    """``grade.py SUBMISSIONS ...`` means ``grade.py grade SUBMISSIONS ...``; subcommands and --help pass."""
    names = _subcommands(build_parser())
    if argv and argv[0] not in names and not argv[0].startswith("-"):
        return [command, *argv]
    return list(argv)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def run() -> None:
    """Console-script entry point (``[project.scripts] dbkata``)."""
    sys.exit(main())
