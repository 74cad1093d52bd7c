"""``dbkata reset`` and ``dbkata solution``: the student's editable files against the starter and the reference.

Where the pristine starter comes from: ``.dbkata/starter/EXERCISE/`` when the workbook has it (every
release built by ``dbkata release`` does: a release has no history), otherwise the version committed
at git ``HEAD`` (the instructor's repository). A student who keeps a release in git of their own still
gets the release's starter, never their own last commit.
"""

from __future__ import annotations

import argparse
import difflib
import shutil
import subprocess
import tempfile
from pathlib import Path

from dbkata import results
from dbkata.catalog import Catalog, ExerciseSpec, load_catalog
from dbkata.cli.common import CliError
from dbkata.release import STARTER_DIR

BACKUPS = Path(".dbkata") / "backups"


def pristine_starter(catalog: Catalog, spec: ExerciseSpec, dest: Path) -> str:
    """Write the starter's editable files of ``spec`` into ``dest``; return where they came from."""
    kept = catalog.root / STARTER_DIR / spec.id
    dest.mkdir(parents=True, exist_ok=True)
    if kept.is_dir():
        for name in spec.editable:
            if not (kept / name).is_file():
                raise CliError(f"{STARTER_DIR / spec.id / name} is missing: this release's starter copy is incomplete")
            shutil.copyfile(kept / name, dest / name)
        return f"{STARTER_DIR / spec.id}/"
    for name in spec.editable:
        path = f"./exercises/{spec.id}/{name}"
        try:
            shown = subprocess.run(
                ["git", "-C", str(catalog.root), "show", f"HEAD:{path}"], capture_output=True, check=True, timeout=60
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            raise CliError(
                f"no pristine starter for {spec.id}: the workbook has no {STARTER_DIR}/ (a release has one) "
                f"and git has no committed {path[2:]}"
            ) from exc
        (dest / name).write_bytes(shown.stdout)
    return "git HEAD"


def reset(a: argparse.Namespace) -> int:
    """Restore the starter's editable files, keeping the student's in a numbered backup first."""
    catalog = load_catalog(a.workbook)
    spec = catalog.get(a.exercise)
    folder = catalog.exercise_dir(spec)
    with tempfile.TemporaryDirectory(prefix="dbkata-reset-") as tmp:
        starter = Path(tmp)
        source = pristine_starter(catalog, spec, starter)
        changed = [n for n in spec.editable if _bytes(folder / n) != (starter / n).read_bytes()]
        if not changed:
            print(f"{spec.id}: {', '.join(spec.editable)} already as in the starter; nothing to reset")
            return 0
        backup = _next_backup(catalog.root, spec)
        for name in spec.editable:
            if (folder / name).is_file():
                (backup / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(folder / name, backup / name)
        for name in changed:
            shutil.copyfile(starter / name, folder / name)
    results.forget(catalog.root, spec.id)  # the last run's results describe code that is gone
    print(f"{spec.id}: {', '.join(changed)} restored to the starter (from {source})")
    print(f"your version is kept in {backup.relative_to(catalog.root)}/ (copy a file back from there to undo)")
    return 0


def _bytes(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _next_backup(root: Path, spec: ExerciseSpec) -> Path:
    """``.dbkata/backups/EXERCISE/N``, N one more than the highest there (1 for the first)."""
    base = root / BACKUPS / spec.id
    taken = [int(p.name) for p in base.iterdir() if p.name.isdigit()] if base.is_dir() else []
    backup = base / str(max(taken, default=0) + 1)
    backup.mkdir(parents=True)
    return backup


def solution(a: argparse.Namespace) -> int:
    """Show the reference and a diff against the student's files, once the exercise passes locally."""
    catalog = load_catalog(a.workbook)
    spec = catalog.get(a.exercise)
    reference = catalog.solution_dir(spec)
    if not reference.is_dir():
        raise CliError(
            "solutions are not in this copy of the workbook (it was released without them); "
            "your instructor can publish a release built with `dbkata release OUT --with-solutions`"
        )
    refusal = _not_yet(spec, results.load(catalog.root).get(spec.id))
    if refusal:
        print(*refusal, sep="\n")
        return 1
    folder = catalog.exercise_dir(spec)
    print(f"{spec.id}: every visible test passed in your last run; the reference solution:")
    for name in (n for n in spec.editable if (reference / n).is_file()):
        ref_rel, yours_rel = f"solutions/{spec.id}/{name}", f"exercises/{spec.id}/{name}"
        ref_text = (reference / name).read_text()
        print(f"\n=== {ref_rel} ===", ref_text.rstrip("\n"), sep="\n")
        yours = (folder / name).read_text() if (folder / name).is_file() else ""
        diff = difflib.unified_diff(
            yours.splitlines(keepends=True),
            ref_text.splitlines(keepends=True),
            f"{yours_rel} (yours)",
            f"{ref_rel} (reference)",
        )
        text = "".join(diff).rstrip("\n")
        print(f"\n=== yours against the reference: {name} ===", text or "(identical)", sep="\n")
    print("\nA different fix can be just as right: the hidden checks grade properties, not this text.")
    return 0


def _not_yet(spec: ExerciseSpec, last: results.ExerciseResult | None) -> list[str]:
    """Why the solution is not shown yet (empty once the last run of the exercise passed all its visible tests)."""
    run = f"pytest exercises/{spec.id}"
    if last is None:
        return [f"{spec.id}: not yet. Run `{run}` first: the solution is shown once all its visible tests pass."]
    if last.passes:
        return []
    if last.failed:
        shown = ", ".join(last.failed[:5]) + (f" and {len(last.failed) - 5} more" if len(last.failed) > 5 else "")
        open_tasks = [n for n, s in sorted(last.tasks.items()) if s != results.DONE]
        task = open_tasks[0] if open_tasks else 1
        return [
            f"{spec.id}: not yet. In your last run, still failing: {shown}.",
            f"Keep going: the failure messages point at a hint (`dbkata hint {spec.id} {task}`).",
        ]
    return [f"{spec.id}: not yet. Your last run did not run all its visible tests: run `{run}`."]
