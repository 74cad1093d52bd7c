"""Every exercise id and every dbkata / grade.py subcommand the docs name exists."""

from __future__ import annotations

import re
from pathlib import Path

from dbkata.catalog import load_catalog
from dbkata.cli import _subcommands, build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _text() -> str:
    return "\n".join(p.read_text() for p in DOCS)


def test_every_exercise_id_named_exists() -> None:
    known = {s.id for s in load_catalog(ROOT).exercises}
    named = set(re.findall(r"\blevel\d/ex\d\d_[a-z0-9_]+", _text()))
    assert named, "the docs name no exercise at all"
    assert named <= known, sorted(named - known)


def _code(text: str) -> str:
    """The fenced blocks and inline code spans: where a command is shown, not talked about."""
    fenced = re.findall(r"^ *```[a-z]*\n(.*?)^ *```", text, flags=re.M | re.S)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"^ *```[a-z]*\n.*?^ *```", "", text, flags=re.M | re.S))
    return "\n".join(fenced + inline)


def test_every_subcommand_named_exists() -> None:
    """``dbkata X`` must be a subcommand; ``grade.py X`` too unless X is the submissions folder (a path)."""
    commands = set(_subcommands(build_parser()))
    code = _code(_text())
    named = set(re.findall(r"(?:^|[\s(\"])dbkata ([a-z][a-z-]*)", code, flags=re.M))
    named |= {w for w in re.findall(r"grade\.py ([a-z][a-z-]*)(?= --out [^-]| --exercise)", code) if w in commands}
    assert {"release", "selfcheck", "server", "compare"} <= named  # the docs show these
    assert named <= commands, sorted(named - commands)
