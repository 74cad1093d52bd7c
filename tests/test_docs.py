"""The docs tell the truth: every exercise id and every dbkata / grade.py subcommand they name exists.

README.md is short and links the guides in docs/; the checks run over README.md and every docs/*.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dbkata.catalog import load_catalog
from dbkata.cli import _subcommands, build_parser

ROOT = Path(__file__).resolve().parents[1]
GUIDES = ["student", "instructor", "ta", "authoring"]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_IDS = re.compile(r"\blevel\d+/ex\w+")  # broader than a valid id, so a misspelt one is caught too


def _text() -> str:
    return "\n".join(p.read_text() for p in DOCS)


def test_the_readme_links_one_guide_per_audience() -> None:
    readme = (ROOT / "README.md").read_text()
    for guide in GUIDES:
        assert (ROOT / "docs" / f"{guide}.md").is_file(), guide
        assert f"(docs/{guide}.md)" in readme, f"README.md does not link docs/{guide}.md"
    assert len(readme.splitlines()) < 80, "README.md is the short entry point: guides belong in docs/"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_exercise_id_named_exists(doc: Path) -> None:
    known = {s.id for s in load_catalog(ROOT).exercises}
    named = set(_IDS.findall(doc.read_text()))
    assert named <= known, sorted(named - known)


def test_the_docs_name_exercises() -> None:
    assert len(set(_IDS.findall(_text()))) >= 5


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_relative_link_resolves(doc: Path) -> None:
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text())
    missing = [link for link in links if "://" not in link and not (doc.parent / link).exists()]
    assert not missing, missing


def _code(text: str) -> str:
    """The fenced blocks and inline code spans: where a command is shown, not talked about."""
    fenced = re.findall(r"^ *```[a-z]*\n(.*?)^ *```", text, flags=re.M | re.S)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"^ *```[a-z]*\n.*?^ *```", "", text, flags=re.M | re.S))
    return "\n".join(fenced + inline)


def _named(text: str, commands: set[str]) -> set[str]:
    """``dbkata X`` must be a subcommand; ``grade.py X`` too unless X is the submissions folder (a path)."""
    code = _code(text)
    named = set(re.findall(r"(?:^|[\s(\"])dbkata ([a-z][a-z-]*)", code, flags=re.M))
    named |= {w for w in re.findall(r"grade\.py ([a-z][a-z-]*)(?= --out [^-]| --exercise)", code) if w in commands}
    return named


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_subcommand_named_exists(doc: Path) -> None:
    commands = set(_subcommands(build_parser()))
    named = _named(doc.read_text(), commands)
    assert named <= commands, sorted(named - commands)


def test_the_docs_show_the_commands_of_each_audience() -> None:
    named = _named(_text(), set(_subcommands(build_parser())))
    assert {"release", "selfcheck", "server", "compare", "watch", "sql", "hint"} <= named
