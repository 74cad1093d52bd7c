"""How fast grade.py grades, and what the grading machinery costs beyond the checks themselves.

    python benchmarks/bench_grading.py [--copies K] [--jobs J] [--exercise ID ...] [--workbook DIR]

1. Baseline: every pytest run the grader would make for one copy of the reference solution (each
   exercise's tests and checks, and each student-written test against the reference, the known-good
   variants, the starter and the known-bad variants), run plainly with ``dbkata.runner.run_tree``:
   the checks' own run time.
2. Grading: K copies of the full solution as a class, graded by ``grade_batch`` with J jobs (sandbox,
   per-submission database role, assembly, records, every output).
3. Overhead = grading time / (K * baseline / J) - 1; and memory: the largest resident set of any one
   child process (a worker's pytest) and of the grader itself.

It prints figures and never asserts anything about time.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from dbkata.assemble import assemble, overlay_editable
from dbkata.catalog import Catalog, ExerciseSpec, load_catalog
from dbkata.grading import BatchOptions, Limits, RunSettings, grade_batch
from dbkata.grading.progress import Progress
from dbkata.runner import run_tree

ROOT = Path(__file__).resolve().parents[1]


def baseline_runs(catalog: Catalog, spec: ExerciseSpec) -> list[tuple[Path, Path | None, tuple[str, ...]]]:
    """(code, student-test source, selection) of each pytest run the grader makes for a full solution."""
    solution = catalog.solution_dir(spec)
    runs: list[tuple[Path, Path | None, tuple[str, ...]]] = [(solution, None, ())]
    for task in spec.tasks:
        if task.student_test:
            variants = catalog.variants(spec)
            correct = [solution, *(v for v in variants if v.name.startswith("good_"))]
            flawed = [catalog.exercise_dir(spec), *(v for v in variants if v.name.startswith("bad_"))]
            runs += [(code, solution, (task.student_test,)) for code in [*correct, *flawed]]
    return runs


def baseline(catalog: Catalog, specs: list[ExerciseSpec], work: Path) -> float:
    """Seconds the plain pytest runs of one full solution take, one after another."""
    total = 0.0
    for spec in specs:
        for code, tests_from, selection in baseline_runs(catalog, spec):
            tree = Path(tempfile.mkdtemp(dir=work))
            shutil.rmtree(tree)
            folder = assemble(catalog, spec, code, tree)
            if tests_from is not None:
                overlay_editable(replace(spec, editable=selection), tests_from, folder)
            started = time.perf_counter()
            result = run_tree(folder, *(str(folder / s) for s in selection))
            total += time.perf_counter() - started
            if result.status != "ok":
                print(f"  warning: baseline run of {spec.id} ended {result.status}: {result.message}")
    return total


def make_class(catalog: Catalog, specs: list[ExerciseSpec], copies: int, folder: Path) -> Path:
    """K students, each a whole clone holding every reference solution."""
    for k in range(copies):
        for spec in specs:
            dest = folder / f"student{k:03d}" / "exercises" / spec.id
            dest.mkdir(parents=True)
            for path in catalog.solution_dir(spec).iterdir():
                if path.name in spec.editable:
                    shutil.copyfile(path, dest / path.name)
    return folder


def main() -> None:
    """Measure and print."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--copies", type=int, default=3)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--exercise", action="append", default=[])
    p.add_argument("--workbook", type=Path, default=ROOT)
    a = p.parse_args()
    catalog = load_catalog(a.workbook)
    specs = [catalog.get(i) for i in a.exercise] or list(catalog.exercises)
    with tempfile.TemporaryDirectory(prefix="dbkata-bench-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)
        base = baseline(catalog, specs, work)
        runs = sum(len(baseline_runs(catalog, s)) for s in specs)
        subs = make_class(catalog, specs, a.copies, work / "submissions")
        options = BatchOptions(subs, work / "out", jobs=a.jobs, settings=RunSettings(Limits(timeout=300), 3600))
        started = time.perf_counter()
        statuses = grade_batch(catalog, options, Progress(a.copies, tty=False))
        graded = time.perf_counter() - started
        totals = sorted({line.split(",")[-2] for line in (work / "out" / "grades.csv").read_text().splitlines()[1:]})
    ideal = a.copies * base / a.jobs
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"exercises: {len(specs)} ({runs} pytest runs per full solution); copies: {a.copies}; jobs: {a.jobs}")
    print(f"baseline (plain pytest runs of one full solution): {base:.1f} s")
    print(
        f"grading {a.copies} copies with grade_batch: {graded:.1f} s "
        f"({graded / a.copies:.1f} s per submission); statuses {dict(statuses)}; totals {totals}"
    )
    print(
        f"overhead beyond the checks' own run time: {100 * (graded / ideal - 1):+.0f}% "
        f"(ideal {ideal:.1f} s = copies × baseline / jobs)"
    )
    print(f"memory: largest child process {child_mb:.0f} MB resident; grader itself {self_mb:.0f} MB")
    print(f"mean plain pytest run: {base / max(runs, 1):.2f} s")


if __name__ == "__main__":
    main()
