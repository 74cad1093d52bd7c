"""Run a target the way the grader does: checks in a harness that never imports it, the code in an app process.

The self-check runs every target both ways, in-process (a student's local run) and split (graded),
and requires the same outcome for every test and check: a check that only works when it can
import the code, or that judges differently across a process boundary, is an authoring error.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from dbkata.app.launcher import AppSandbox
from dbkata.assemble import assemble_app, assemble_harness
from dbkata.catalog import Catalog, ExerciseSpec
from dbkata.runner import RunResult, run_split


def run_split_target(catalog: Catalog, spec: ExerciseSpec, target: Path, dest: Path) -> RunResult:
    """Every test and check of ``spec`` against ``target``, with the code in a separate app process."""
    folder = assemble_harness(catalog, spec, target, dest / "harness")
    app = dest / "app"
    assemble_app(catalog, spec, target, app)
    rendezvous = Path(tempfile.mkdtemp(prefix="dbkr-", dir="/tmp"))  # short: unix socket paths are < 108 bytes
    try:
        return run_split(folder, AppSandbox(app_root=app, rendezvous=rendezvous))
    finally:
        for leftover in rendezvous.iterdir():
            leftover.unlink(missing_ok=True)
        rendezvous.rmdir()


def disagreements(inprocess: RunResult, split: RunResult) -> list[str]:
    """Where the two modes differ: run status, or any test's outcome (tests only one mode ran included)."""
    if inprocess.status != split.status:
        return [f"run status {inprocess.status} in-process, {split.status} split ({split.message})"]
    one = {t.name: str(t.outcome) for t in inprocess.tests}
    other = {t.name: str(t.outcome) for t in split.tests}
    return [
        f"{name}: {one.get(name, 'not run')} in-process, {other.get(name, 'not run')} split"
        for name in sorted(one.keys() | other.keys())
        if one.get(name) != other.get(name)
    ]
