"""Gradescope's run_autograder step for dbkata: grade the one submission in /autograder/submission.

Gradescope's harness: your autograder zip is unpacked in /autograder/source (put a clone of the
workbook there and `pip install -e` it in setup.sh); each student's upload is in
/autograder/submission; results go to /autograder/results/results.json. The `run_autograder` file in
the zip is then just:

    #!/usr/bin/env bash
    exec python /autograder/source/examples/gradescope/run_autograder.py

On an infrastructure error no results.json is written, so Gradescope shows the run as failed (to be
rerun) instead of giving a zero.

Every run first calibrates grade.py's time limits on the machine Gradescope gave it, by grading the
reference solution (about as long as grading a student who solved everything; see "Limits and
isolation" in docs/instructor.md). To skip that and use fixed limits, end the command with
`-- --timeout 120`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

WORKBOOK = Path(__file__).resolve().parents[2]


def main(argv: list[str]) -> int:
    """Copy the upload in as one student, run grade.py, hand its Gradescope results back."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=Path("/autograder"), help="Gradescope's harness folder")
    p.add_argument("--workbook", type=Path, default=WORKBOOK)
    p.add_argument("grade_args", nargs="*", help="extra grade.py options (after --)")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dbkata-gs-") as tmp:
        subs, out = Path(tmp) / "submissions", Path(tmp) / "out"
        shutil.copytree(a.root / "submission", subs / "submission", symlinks=True)
        cmd = [
            sys.executable,
            str(WORKBOOK / "grade.py"),
            str(subs),
            "--out",
            str(out),
            "--workbook",
            str(a.workbook),
            *a.grade_args,
        ]
        code = subprocess.run(cmd, check=False).returncode
        results = out / "gradescope" / "submission" / "results.json"
        if not results.is_file():
            print(f"grade.py exited {code} without Gradescope results (infrastructure error?)", file=sys.stderr)
            return 1
        (a.root / "results").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(results, a.root / "results" / "results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
