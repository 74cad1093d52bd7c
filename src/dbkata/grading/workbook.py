"""The workbook a batch is graded against: the committed one (git HEAD), never the grader's working tree.

An instructor's clone may hold solved starters or half-written checks; grading from it would judge
student tests against a solved "starter". So the manifest, ``exercises/``, ``checks/`` and ``solutions/``
are taken from the last commit (``git archive``) into a private folder, and a working tree that differs
from that commit is warned about once. A release tarball without ``.git`` is graded as it is, and the
warning says so.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from dbkata.catalog import MANIFEST, Catalog, load_catalog

PARTS = (MANIFEST, "exercises", "checks", "solutions")


def committed_workbook(catalog: Catalog, dest: Path) -> tuple[Catalog, tuple[str, ...]]:
    """The workbook as committed, extracted under ``dest`` (a new private folder), and the warnings to show."""
    root = catalog.root
    try:
        top = Path(_git(root, "rev-parse", "--show-toplevel").decode().strip())
        prefix = _git(root, "rev-parse", "--show-prefix").decode().strip()
        commit = _git(top, "rev-parse", "--short=12", "HEAD").decode().strip()
        listed = set(_git(top, "ls-tree", "--name-only", f"HEAD:{prefix}").decode().split())
    except (OSError, subprocess.CalledProcessError):
        return catalog, (f"the workbook {root} is not a git checkout: graded from its files as they are",)
    parts = [p for p in PARTS if p in listed]
    if MANIFEST not in parts:
        return catalog, (f"{MANIFEST} of {root} is not committed: graded from the files as they are",)
    dest.mkdir(mode=0o700, parents=True)
    archive = _git(top, "archive", "--format=tar", f"HEAD:{prefix}", *parts)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        # git archive of the workbook's own commit; the "data" filter exists from Python 3.11.4 on only
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # Debian's python3 is 3.11.2
            tar.extractall(dest)  # our own commit, not an upload
    paths = [prefix + p for p in PARTS]
    changed = _git(top, "status", "--porcelain", "--untracked-files=all", "--", *paths).decode().splitlines()
    warnings: tuple[str, ...] = ()
    if changed:
        sample = ", ".join(line[3:].removeprefix(prefix) for line in changed[:3]) + (" …" if len(changed) > 3 else "")
        warnings = (
            f"the workbook's working tree differs from its last commit in {len(changed)} path(s) ({sample}); "
            f"graded against the committed version {commit}: commit the changes to grade with them",
        )
    return load_catalog(dest), warnings


def _git(root: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=True, timeout=120).stdout
