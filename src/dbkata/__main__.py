"""``python -m dbkata``: the same command as ``dbkata``."""

from __future__ import annotations

import sys

from dbkata.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m dbkata"))
