"""Grade a class of dbkata submissions: the top-level script over the ``dbkata`` command.

python grade.py SUBMISSIONS --out OUT [--jobs N] [--force] [--only ID] [--exercise ID] [--shard K/N]
python grade.py merge OUT1 OUT2 ... --out OUT
python grade.py selfcheck [--exercise ID] [--repeat N]
python grade.py --help        (every subcommand; docs/instructor.md explains every option)
"""

from __future__ import annotations

import sys
from pathlib import Path

from dbkata.cli import main, with_default_command

if __name__ == "__main__":
    sys.exit(
        main(with_default_command(sys.argv[1:], "grade"), prog="grade.py", workbook=Path(__file__).resolve().parent)
    )
