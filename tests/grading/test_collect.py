"""Collecting submissions: only editable files are taken, from any layout, safely."""

from __future__ import annotations

import functools
import io
import operator
import tarfile
import zipfile
from pathlib import Path

import pytest

from dbkata.catalog import Catalog, load_catalog
from dbkata.grading import collect

WORKBOOK = Path(__file__).parent / "fixtures" / "workbook"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(WORKBOOK)


def _zip(path: Path, files: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, target)
    return path


def test_whole_clone_in_a_wrapping_folder_takes_only_editable_files(tmp_path: Path, catalog: Catalog) -> None:
    entry = _zip(
        tmp_path / "amy.zip",
        {
            "dbkata-main/exercises/level2/ex02_echo/echo.py": b"# amy's echo\n",
            "dbkata-main/exercises/level2/ex02_echo/test_echo.py": b"def test_x(): pass\n",  # a visible test
            "dbkata-main/exercises/level2/ex02_echo/conftest.py": b"raise SystemExit\n",
            "dbkata-main/checks/level2/ex02_echo/echo.py": b"# a stray copy\n",
            "dbkata-main/solutions/level2/ex01_tally/tally.py": b"# not hers to submit\n",
            "dbkata-main/pyproject.toml": b"[tool.pytest.ini_options]\naddopts='-p no:dbkata'\n",
        },
    )
    sub = collect.load(entry, catalog)
    assert sub.student == "amy"
    assert sub.files == {"level2/ex02_echo/echo.py": b"# amy's echo\n"}


def test_exercises_tree_only_as_tar_gz(tmp_path: Path, catalog: Catalog) -> None:
    entry = tmp_path / "bo.tar.gz"
    with tarfile.open(entry, "w:gz") as tf:
        for name, data in {"level2/ex01_tally/tally.py": b"T\n", "level2/ex01_tally/test_mine.py": b"M\n"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("level2/ex02_echo/echo.py")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tf.addfile(link)
    sub = collect.load(entry, catalog)
    assert sub.files == {"level2/ex01_tally/tally.py": b"T\n", "level2/ex01_tally/test_mine.py": b"M\n"}


def test_symlinks_traversal_and_huge_files_are_never_read(tmp_path: Path, catalog: Catalog) -> None:
    entry = _zip(
        tmp_path / "cy.zip",
        {
            "../../level2/ex01_tally/tally.py": b"escaped\n",
            "exercises/level2/ex01_tally/test_mine.py": b"x" * (collect.FILE_LIMIT + 1),
        },
        symlinks={"exercises/level2/ex02_echo/echo.py": "/etc/shadow"},
    )
    sub = collect.load(entry, catalog)
    assert "level2/ex02_echo/echo.py" not in sub.files
    assert "level2/ex01_tally/test_mine.py" not in sub.files
    assert any("larger than" in p for p in sub.problems)
    folder = tmp_path / "dee" / "exercises" / "level2" / "ex02_echo"
    folder.mkdir(parents=True)
    (folder / "echo.py").symlink_to("/etc/hostname")
    assert collect.load(tmp_path / "dee", catalog).files == {}


def test_unreadable_archive_is_a_problem_not_an_exception(tmp_path: Path, catalog: Catalog) -> None:
    (tmp_path / "eve.zip").write_bytes(b"not a zip at all")
    sub = collect.load(tmp_path / "eve.zip", catalog)
    assert sub.files == {}
    assert sub.problems
    assert "cannot read eve.zip" in sub.problems[0]


def test_entries_bad_names_and_duplicates_are_skipped_with_a_line(tmp_path: Path) -> None:
    for folder in ("amy", "bo", "we ird"):
        (tmp_path / folder).mkdir()
    (tmp_path / "bo.zip").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("hi")
    entries, skipped = collect.find_entries(tmp_path)
    assert [e.name for e in entries] == ["amy"]
    assert len(skipped) == 3
    assert any(line.startswith("bo: several entries") for line in skipped)


def test_shards_partition_the_class_stably() -> None:
    students = [f"s{i:03d}" for i in range(200)]
    shards = [[s for s in students if collect.in_shard(s, (k, 3))] for k in (1, 2, 3)]
    assert sorted(functools.reduce(operator.iadd, shards, [])) == students
    assert all(len(s) > 40 for s in shards)
    assert [s for s in [*students, "new"] if collect.in_shard(s, (2, 3))][: len(shards[1])] == shards[1]


def test_fingerprint_changes_only_with_graded_content(catalog: Catalog, tmp_path: Path) -> None:
    a = _zip(tmp_path / "a.zip", {"exercises/level2/ex02_echo/echo.py": b"1\n", "notes.md": b"x"})
    b = _zip(tmp_path / "b.zip", {"exercises/level2/ex02_echo/echo.py": b"1\n", "notes.md": b"y"})
    c = _zip(tmp_path / "c.zip", {"exercises/level2/ex02_echo/echo.py": b"2\n"})
    fa, fb, fc = (collect.load(p, catalog).fingerprint() for p in (a, b, c))
    assert fa == fb != fc
