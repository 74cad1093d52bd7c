"""The grader's tests: the fixture workbook under fixtures/ is data, never collected here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dbkata.grading.sandbox import isolation_available

collect_ignore = ["fixtures"]

ROOT = Path(__file__).resolve().parents[2]
WORKBOOK = Path(__file__).resolve().parent / "fixtures" / "workbook"
SOLVED_ECHO = (WORKBOOK / "solutions" / "level2" / "ex02_echo" / "echo.py").read_text()
OUTPUTS = ("batch.json", "grades.csv", "canvas.csv", "moodle.csv", "ta-worksheet.csv", "results.json", "report.html")


def submit(folder: Path, student: str, files: dict[str, str]) -> Path:
    """A submission folder laid out as a whole clone: ``files`` maps 'level2/ex02_echo/echo.py' to text."""
    for rel, text in files.items():
        path = folder / student / "exercises" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder / student


def grade_cmd(*args: str | Path) -> list[str]:
    """The command line of grade.py on the fixture workbook (trusting the fixtures where nothing isolates)."""
    trust = [] if args[:1] in (("merge",), ("selfcheck",)) or isolation_available() else ["--trust-submissions"]
    return [sys.executable, str(ROOT / "grade.py"), *map(str, args), *trust, "--workbook", str(WORKBOOK)]


def run_grade(*args: str | Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run grade.py to completion; fail the test with its output if it does not exit 0."""
    proc = subprocess.run(grade_cmd(*args), capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def outputs(out: Path) -> dict[str, bytes]:
    """Every output file of a grade.py output folder (records excluded: they hold timings)."""
    files = {name: (out / name).read_bytes() for name in OUTPUTS}
    for sub in ("feedback", "gradescope"):
        files.update(
            {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted((out / sub).rglob("*")) if p.is_file()}
        )
    return files
