"""Same grades under load: grade the demo class on an idle machine, then with every core kept busy.

    python benchmarks/bench_load.py [--hogs N] [--exercise ID ...]

Builds the demo class (examples/demo_class.py), grades it once as it is and once while N processes
(default: one per core) spin on the CPU, and prints both wall times and whether grades.csv came out
byte-identical. It prints figures and asserts nothing about time; a difference in grades.csv is
printed as a diff and makes the exit status 1. Each grade.py run calibrates its time limits from the
reference (docs/instructor.md, "Limits and isolation"); what each calibration measured is printed too.
"""

from __future__ import annotations

import argparse
import difflib
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dbkata.cli.instructor import CALL_FLOOR
from dbkata.grading import calibrate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from examples.demo_class import build  # noqa: E402


def spin() -> None:
    """Keep one core busy until killed."""
    while True:
        pass


def grade(subs: Path, out: Path, exercises: list[str]) -> float:
    """Seconds grade.py took for the class."""
    started = time.perf_counter()
    picked = [a for ex in exercises for a in ("--exercise", ex)]
    subprocess.run([sys.executable, str(ROOT / "grade.py"), str(subs), "--out", str(out), *picked], check=True)
    return time.perf_counter() - started


def calibration(out: Path) -> str:
    """What grade.py's calibration measured (the reference's run time) and the per-call limits it gave."""
    data = json.loads((out / calibrate.CALIBRATION).read_text())
    measured = calibrate.load(out, data["workbook"])
    runs = measured.runs
    limits = sorted(int(measured.timeout(exercise, CALL_FLOOR)) for exercise in runs)
    return (
        f"reference {sum(map(sum, runs.values())):.1f} s for {len(runs)} exercise(s) at load average "
        f"{data['load_average'][0]:g}; per-call limits {limits[0]}–{limits[-1]} s"
    )


def main() -> int:
    """Grade idle, grade loaded, compare."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hogs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--exercise", action="append", default=[], metavar="ID")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dbkata-load-") as tmp:
        subs = build(Path(tmp) / "class")
        idle = grade(subs, Path(tmp) / "idle", args.exercise)
        hogs = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.hogs)]
        for hog in hogs:
            hog.start()
        try:
            loaded = grade(subs, Path(tmp) / "loaded", args.exercise)
        finally:
            for hog in hogs:
                hog.kill()
        a = (Path(tmp) / "idle" / "grades.csv").read_text().splitlines()
        b = (Path(tmp) / "loaded" / "grades.csv").read_text().splitlines()
        measured = {run: calibration(Path(tmp) / run) for run in ("idle", "loaded")}
    print(f"idle: {idle:.1f} s; with {args.hogs} CPU hog(s): {loaded:.1f} s ({loaded / idle:.2f}x)")
    for run, line in measured.items():
        print(f"calibration, {run}: {line}")
    if a == b:
        print("grades.csv: byte-identical")
        return 0
    print("grades.csv DIFFERS:", *difflib.unified_diff(a, b, "idle", "loaded", lineterm=""), sep="\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
