"""Benchmark a level's visible tests as a student runs them, and print figures (never asserts a time).

    python benchmarks/bench_exercises.py [--level level2] [--runs N]

Prints the wall time of `pytest exercises/<level>` with the embedded server already warm (held by
this script, as a running pytest would be), and how long pytest itself reported.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from dbkata.server import EmbeddedServer

ROOT = Path(__file__).resolve().parents[1]


def run_level(level: str) -> tuple[float, float, str]:
    """One run: (wall seconds, pytest-reported seconds, summary line)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"exercises/{level}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-200:]
    reported = re.search(r"in ([\d.]+)s", summary)
    return wall, float(reported.group(1)) if reported else float("nan"), summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--level", default="level2")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    server = EmbeddedServer()
    server.acquire()
    try:
        run_level(args.level)  # warm: templates built, files cached
        results = [run_level(args.level) for _ in range(args.runs)]
    finally:
        server.release()
    walls = [r[0] for r in results]
    reported = [r[1] for r in results]
    print(f"pytest exercises/{args.level} ({results[-1][2]})")
    print(f"  wall:            median {statistics.median(walls):.2f} s (min {min(walls):.2f}, max {max(walls):.2f})")
    print(f"  pytest-reported: median {statistics.median(reported):.2f} s (target for the whole level: < 5 s warm)")


if __name__ == "__main__":
    main()
