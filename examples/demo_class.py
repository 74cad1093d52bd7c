"""Build the demo class in a folder of your choice: `python examples/demo_class.py OUT`, then grade OUT.

The class is examples/submissions plus `ada`, a whole clone with every exercise solved. Ada's files are
generated here from solutions/ (never committed as a copy), so the demo always matches the workbook
and the repository holds only one copy of each reference solution.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from dbkata.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[1]


def build(dest: Path, workbook: Path = ROOT) -> Path:
    """Copy the demo submissions into ``dest`` (which must not exist) and generate ada's from solutions/."""
    shutil.copytree(workbook / "examples" / "submissions", dest)
    catalog = load_catalog(workbook)
    for spec in catalog.exercises:
        solved = catalog.solution_dir(spec)
        target = dest / "ada" / "exercises" / spec.id
        for name in spec.editable:
            if (solved / name).is_file():
                target.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(solved / name, target / name)
    return dest


def main() -> None:
    """Parse OUT and build the class there."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a folder that does not exist yet")
    print(f"demo class written to {build(parser.parse_args().out)}")


if __name__ == "__main__":
    main()
