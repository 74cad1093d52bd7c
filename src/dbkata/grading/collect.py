"""Find the submissions in a folder and stage, from each, only the files the manifest marks editable.

A submission is a folder, ``.zip``, ``.tar.gz`` or ``.tgz`` named by the student id. It may hold a whole
clone of the workbook (``exercises/level2/...``), only the ``exercises/`` tree, or either of them inside
one wrapping folder. Nothing else of it is ever read: no tests, conftest, config or extra files. Archive
members are matched by name and read with a size cap, never extracted wholesale (no path traversal,
no symlinks, no zip bombs).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import re
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dbkata.catalog import Catalog
from dbkata.learning import REVEALS as _REVEALS_PATH
from dbkata.learning import read_reveals

_Reader = Callable[[], bytes]
FILE_LIMIT = 1 << 20  # an editable file larger than this is not a student's source file
_ARCHIVES = (".tar.gz", ".tgz", ".zip")
_SKIP_DIRS = {"__pycache__", "node_modules", "venv", "site-packages"}
REVEALS = _REVEALS_PATH.as_posix()
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")


@dataclass(frozen=True)
class Submission:
    """One student's entry: where it is, and the editable files found in it."""

    student: str
    source: Path
    files: dict[str, bytes] = field(default_factory=dict)  # "level2/ex01_x/deps.py" -> content
    problems: tuple[str, ...] = ()  # files skipped and why (too large, a symlink...)
    reveals: bytes | None = None  # .dbkata/reveals.json (level 1's learning loop), read as data

    def fingerprint(self) -> str:
        """A hash of exactly what will be graded (and of the reveals file, when there is one)."""
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        if self.reveals is not None:
            digest.update(REVEALS.encode() + b"\0" + hashlib.sha256(self.reveals).digest())
        return digest.hexdigest()[:16]

    def fingerprint_of(self, exercise: str) -> str:
        """A hash of what will be graded of one exercise: its files, and its entry of the reveals file.

        A resumed run keeps an exercise's grade while this is unchanged, even if the student changed
        another exercise since.
        """
        digest = hashlib.sha256(exercise.encode() + b"\0")
        for name in sorted(n for n in self.files if n.startswith(exercise + "/")):
            digest.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        revealed = read_reveals(self.reveals).get(exercise)
        if revealed is not None:
            digest.update(b"revealed\0" + revealed.encode())
        return digest.hexdigest()[:16]

    def stage(self, dest: Path) -> Path:
        """Write the editable files under ``dest/<exercise id>/``; return ``dest``."""
        for name, content in self.files.items():
            path = dest / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        return dest


def student_id(entry: Path) -> str:
    """The student id an entry is named by."""
    name = entry.name
    for suffix in _ARCHIVES:
        if entry.is_file() and name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def find_entries(folder: Path) -> tuple[list[Path], list[str]]:
    """The submission entries in ``folder`` (sorted by id), and lines about entries that are skipped."""
    entries: dict[str, list[Path]] = {}
    skipped = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name.lower().startswith("readme"):
            continue
        if entry.is_symlink() or not (entry.is_dir() or entry.name.endswith(_ARCHIVES)):
            skipped.append(f"{entry.name}: not a folder, .zip or .tar.gz; skipped")
            continue
        sid = student_id(entry)
        if not _ID_RE.match(sid):
            skipped.append(f"{entry.name}: {sid!r} cannot be a student id (letters, digits, ._@+-); skipped")
            continue
        entries.setdefault(sid, []).append(entry)
    chosen = []
    for sid, paths in sorted(entries.items()):
        if len(paths) > 1:
            skipped.append(f"{sid}: several entries ({', '.join(p.name for p in paths)}); skipped, keep one")
        else:
            chosen.append(paths[0])
    return chosen, skipped


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` with 1 <= K <= N (as written on the command line)."""
    k, _, n = text.partition("/")
    if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise argparse.ArgumentTypeError("use K/N with 1 <= K <= N, e.g. --shard 2/4")
    return int(k), int(n)


def in_shard(student: str, shard: tuple[int, int] | None) -> bool:
    """Whether a student belongs to shard K of N (stable: adding students never moves the others)."""
    if shard is None:
        return True
    k, n = shard
    return int(hashlib.sha256(student.encode()).hexdigest(), 16) % n == k - 1


def load(entry: Path, catalog: Catalog) -> Submission:
    """Read the editable files of every exercise from one entry."""
    wanted = {f"{spec.id}/{name}" for spec in catalog.exercises for name in spec.editable}
    try:
        members = dict(_members(entry))
    except (OSError, ValueError, tarfile.TarError, zipfile.BadZipFile) as exc:
        return Submission(student_id(entry), entry, {}, (f"cannot read {entry.name}: {exc}",))
    prefix = _root_prefix(members, wanted)
    files: dict[str, bytes] = {}
    problems = []
    for rel in sorted(wanted):
        reader = members.get(prefix + rel)
        if reader is None:
            continue
        try:
            files[rel] = reader()
        except (OSError, ValueError, tarfile.TarError, zipfile.BadZipFile) as exc:
            problems.append(f"{rel}: not used ({exc})")
    return Submission(student_id(entry), entry, files, tuple(problems), _reveals(members, prefix))


def _reveals(members: dict[str, _Reader], prefix: str) -> bytes | None:
    """The workbook's reveals file (next to ``exercises/``), if the submission holds one that can be read."""
    base = prefix.removesuffix("exercises/")
    reader = members.get(base + REVEALS)
    try:
        return reader() if reader is not None else None
    except (OSError, ValueError, tarfile.TarError, zipfile.BadZipFile):
        return None


def _members(entry: Path) -> Iterator[tuple[str, _Reader]]:
    if entry.is_dir():
        return _folder_members(entry)
    if entry.name.endswith(".zip"):
        return _zip_members(entry)
    return _tar_members(entry)


def _root_prefix(members: dict[str, _Reader], wanted: set[str]) -> str:
    """The member-name prefix exercise ids sit under ("", "exercises/", "wrap/exercises/"...)."""
    hits: dict[str, int] = {}
    for name in members:
        for rel in wanted:
            if name == rel or name.endswith("/" + rel):
                prefix = name[: len(name) - len(rel)]
                hits[prefix] = hits.get(prefix, 0) + 1
    if not hits:
        return ""
    return min(hits, key=lambda p: (-hits[p], not p.endswith("exercises/"), len(p), p))


def _folder_members(root: Path) -> Iterator[tuple[str, _Reader]]:
    for dirpath, dirnames, filenames in os.walk(root):  # os.walk does not follow symlinked folders
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS]
        reveals = Path(dirpath) / REVEALS  # the one file of a hidden folder that is read (as data)
        if reveals.is_file():
            yield reveals.relative_to(root).as_posix(), functools.partial(_read_file, reveals)
        for fname in filenames:
            path = Path(dirpath) / fname
            yield path.relative_to(root).as_posix(), functools.partial(_read_file, path)


def _read_file(path: Path) -> bytes:
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        raise ValueError("not a regular file (a symlink?)")
    if st.st_size > FILE_LIMIT:
        raise ValueError(f"larger than {FILE_LIMIT >> 10} KB")
    return path.read_bytes()


def _zip_members(path: Path) -> Iterator[tuple[str, _Reader]]:
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    for info in infos:
        mode = info.external_attr >> 16
        if info.is_dir() or stat.S_ISLNK(mode):
            continue
        yield info.filename.lstrip("/"), functools.partial(_read_zip, path, info)


def _read_zip(path: Path, info: zipfile.ZipInfo) -> bytes:
    if info.file_size > FILE_LIMIT:
        raise ValueError(f"larger than {FILE_LIMIT >> 10} KB")
    with zipfile.ZipFile(path) as zf, zf.open(info) as fh:
        data = fh.read(FILE_LIMIT + 1)
    if len(data) > FILE_LIMIT:
        raise ValueError(f"larger than {FILE_LIMIT >> 10} KB")
    return data


def _tar_members(path: Path) -> Iterator[tuple[str, _Reader]]:
    with tarfile.open(path, "r:*") as tf:
        members = [m for m in tf.getmembers() if m.isfile()]
    for member in members:
        yield member.name.lstrip("/").removeprefix("./"), functools.partial(_read_tar, path, member)


def _read_tar(path: Path, member: tarfile.TarInfo) -> bytes:
    if member.size > FILE_LIMIT:
        raise ValueError(f"larger than {FILE_LIMIT >> 10} KB")
    with tarfile.open(path, "r:*") as tf:
        fh = tf.extractfile(member)
        if fh is None:
            raise ValueError("not a regular file")
        return fh.read(FILE_LIMIT)
