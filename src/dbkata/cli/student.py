"""Subcommands for students: status, hint, check-my-test, solution, reset."""

from __future__ import annotations

from dbkata.cli.common import Adder


def add_commands(add: Adder) -> None:
    """Register this module's subcommands."""
