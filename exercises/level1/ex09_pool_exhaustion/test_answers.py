"""Visible test: answers.toml is complete and well-formed. It never says whether an answer is right."""

from __future__ import annotations

from pathlib import Path

from dbkata.answers import assert_complete


def test_every_question_is_answered_in_its_form() -> None:
    assert_complete(Path(__file__).parent)
