"""What every subcommand module shares: the refusal type and the way subcommands are added."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], int]
Adder = Callable[[str, str, Handler], argparse.ArgumentParser]


class CliError(Exception):
    """A refusal the user can act on: printed as one line, exit code 2."""
