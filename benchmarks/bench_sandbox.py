"""What the sandbox costs at start-up: ``python -c pass`` inside it versus outside.

    python benchmarks/bench_sandbox.py [--repeat N]

Inside means the way the grader starts a run: ``Slot.prefix`` (new namespaces, the allow-list root,
limits, as root the slot's user) in front of the same interpreter. It prints figures and never asserts
anything about time.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dbkata.grading.sandbox import Limits, isolation_available, isolation_problem, make_slots


def timed(command: list[str], cwd: Path, repeat: int) -> list[float]:
    """Wall seconds of each of ``repeat`` runs of ``command``."""
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, stdin=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=10)
    a = p.parse_args()
    if not isolation_available():
        sys.exit(f"no sandbox on this machine: {isolation_problem()}")
    (slot,) = make_slots(1)
    base = Path(tempfile.mkdtemp(prefix="dbk-bench-"))
    try:
        run = base / "run"
        run.mkdir()
        slot.give(run)
        plain = [sys.executable, "-c", "pass"]
        boxed = [*slot.prefix(Limits(), read_write=[run]), *plain]
        timed(boxed, run, 1)  # warm the page cache for both
        for label, command in (("outside", plain), ("inside", boxed)):
            s = timed(command, run, a.repeat)
            print(
                f"python -c pass {label:>7}: median {statistics.median(s) * 1000:6.1f} ms, "
                f"min {min(s) * 1000:6.1f} ms, max {max(s) * 1000:6.1f} ms ({a.repeat} runs)"
            )
    finally:
        slot.kill_all()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
