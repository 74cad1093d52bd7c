"""Find the line of exercise code that caused a database operation.

SQLAlchemy's asyncio layer runs the sync core inside a child greenlet whose own stack holds no
application frames, so the walk continues into the parent greenlets' stacks.
"""

from __future__ import annotations

import functools
import linecache
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

_LIBRARY_ROOTS = tuple(
    {
        str(Path(p).resolve())
        for p in (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])
    }
)
_DBKATA = str(Path(__file__).resolve().parents[1])


def _frames(start: FrameType | None) -> Iterator[FrameType]:
    try:
        import greenlet

        current: greenlet.greenlet | None = greenlet.getcurrent()
    except ImportError:  # pragma: no cover - greenlet comes with sqlalchemy[asyncio]
        current = None
    frame = start
    while True:
        while frame is not None:
            yield frame
            frame = frame.f_back
        if current is None or current.parent is None:
            return
        current = current.parent
        frame = current.gr_frame


@functools.lru_cache(maxsize=4096)
def _is_exercise_code(filename: str) -> bool:
    if filename.startswith("<"):
        return False
    resolved = str(Path(filename).resolve())
    return (
        not resolved.startswith(_LIBRARY_ROOTS) and not resolved.startswith(_DBKATA) and "site-packages" not in resolved
    )


def caller_origin() -> str:
    """``routes.py:31 in dashboard: <source line>`` for the innermost exercise frame, or ``"?"``."""
    for frame in _frames(sys._getframe(1)):
        filename = frame.f_code.co_filename
        if _is_exercise_code(filename):
            return _describe(filename, frame.f_lineno, frame.f_code.co_name)
    return "?"


@functools.lru_cache(maxsize=4096)
def _describe(filename: str, lineno: int, function: str) -> str:
    line = linecache.getline(filename, lineno).strip()
    return f"{_short(filename)}:{lineno} in {function}" + (f": {line}" if line else "")


def _short(filename: str) -> str:
    """The path from the exercise folder down (``routes.py``), else the file name."""
    parts = Path(filename).parts
    for i in range(len(parts) - 1, 0, -1):
        if parts[i - 1].startswith("level") and parts[i].startswith("ex"):
            return "/".join(parts[i + 1 :])
    return Path(filename).name
