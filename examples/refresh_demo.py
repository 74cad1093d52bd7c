"""Copy the current reference solutions into the demo class's full submission (examples/submissions/ada).

Run it after an exercise is added or a solution changes: `python examples/refresh_demo.py`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from dbkata.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Mirror every solution file of every exercise into ada's whole-clone submission."""
    catalog = load_catalog(ROOT)
    for spec in catalog.exercises:
        solved = catalog.solution_dir(spec)
        dest = ROOT / "examples" / "submissions" / "ada" / "exercises" / spec.id
        for path in sorted(solved.iterdir()) if solved.is_dir() else []:
            if path.name in spec.editable:
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest / path.name)
                print(f"{path.relative_to(ROOT)} -> {(dest / path.name).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
