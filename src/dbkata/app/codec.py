"""Values and errors as they cross between the harness and the app process: plain JSON, never pickle.

Both execution modes (the app in the harness's own process, or in a sandboxed process) send every
request and result through this codec, so a check sees exactly the same values in both.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import traceback
from decimal import Decimal
from pathlib import Path
from typing import Any

FRAME_LIMIT = 64 << 20  # bytes: a frame larger than this is refused (the app cannot flood the harness)


class AppError(Exception):
    """An exception raised by the exercise's code, as the harness sees it (in either execution mode).

    ``type_names`` holds the names of the exception's class and its bases (``InsufficientFunds``,
    ``Exception``, ...), so a check can ask ``dbkata.raised(error, "InsufficientFunds")`` without
    importing the exercise's code.
    """

    def __init__(
        self,
        type_name: str,
        message: str,
        *,
        type_names: tuple[str, ...] = (),
        module: str = "",
        sqlstate: str | None = None,
        frames: tuple[str, ...] = (),
        cause: str | None = None,
    ) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.message = message
        self.type_names = type_names or (type_name,)
        self.module = module
        self.sqlstate = sqlstate
        self.frames = frames
        self.cause = cause

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"AppError({self.type_name}: {self.message[:80]!r})"

    def headline(self) -> str:
        """``NameError: name 'sesion' is not defined (deps.py:14)``: what a student needs first."""
        where = f" ({self.frames[-1].split(',')[0]})" if self.frames else ""
        return f"{self.type_name}: {self.message.splitlines()[0] if self.message else ''}{where}"

    def to_json(self) -> dict[str, Any]:
        """The wire form."""
        return {
            "type": self.type_name,
            "types": list(self.type_names),
            "module": self.module,
            "message": self.message,
            "sqlstate": self.sqlstate,
            "frames": list(self.frames),
            "cause": self.cause,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AppError:
        """Back from the wire form (untrusted: every field is coerced to its type)."""
        return cls(
            str(data.get("type", "Exception"))[:200],
            str(data.get("message", ""))[:8000],
            type_names=tuple(str(t)[:200] for t in list(data.get("types") or [])[:50]),
            module=str(data.get("module", ""))[:200],
            sqlstate=str(data["sqlstate"])[:5] if data.get("sqlstate") else None,
            frames=tuple(str(f)[:300] for f in list(data.get("frames") or [])[:20]),
            cause=str(data["cause"])[:2000] if data.get("cause") else None,
        )


def raised(error: BaseException | None, name: str) -> bool:
    """Whether ``error`` is (a subclass of) the exercise's exception class called ``name``."""
    return isinstance(error, AppError) and name in error.type_names


def error_from(exc: BaseException, code_root: Path | None) -> AppError:
    """Describe an exception raised by exercise code; frames are the exercise's own lines only."""
    from dbkata.probes.races import sqlstate_of

    frames = []
    for fs in traceback.extract_tb(exc.__traceback__):
        path = Path(fs.filename)
        if code_root is not None and path.is_relative_to(code_root):
            frames.append(f"{path.relative_to(code_root)}:{fs.lineno}, in {fs.name}: {(fs.line or '').strip()}")
    cause = exc.__cause__ or exc.__context__
    return AppError(
        type(exc).__name__,
        str(exc),
        type_names=tuple(c.__name__ for c in type(exc).__mro__),
        module=type(exc).__module__,
        sqlstate=sqlstate_of(exc),
        frames=tuple(frames[-8:]),
        cause=f"{type(cause).__name__}: {cause}"[:2000] if cause is not None else None,
    )


def encode(value: Any) -> Any:
    """A JSON-ready form of ``value`` (tagged for the types JSON lacks)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"$dict": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    return {"$object": type(value).__name__, "repr": repr(value)[:500]}


def decode(value: Any) -> Any:
    """The inverse of :func:`encode` (objects that could not be sent come back as their repr)."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$dict" in value:
        return {_hashable(decode(k)): decode(v) for k, v in value["$dict"]}
    if "$decimal" in value:
        return Decimal(value["$decimal"])
    if "$datetime" in value:
        return dt.datetime.fromisoformat(value["$datetime"])
    if "$date" in value:
        return dt.date.fromisoformat(value["$date"])
    if "$bytes" in value:
        return base64.b64decode(value["$bytes"])
    if "$object" in value:
        return f"<{value['$object']}: {value.get('repr', '')}>"
    return value


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def dumps(message: dict[str, Any]) -> bytes:
    """One frame: 4-byte big-endian length, then compact JSON."""
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    return len(body).to_bytes(4, "big") + body


def loads(body: bytes) -> dict[str, Any]:
    """A frame's body; anything but a JSON object is a protocol error."""
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("a frame must hold a JSON object")
    return data


class raises:
    """``with dbkata.raises("InsufficientFunds"): await exercise.call(...)``: the exercise's exception, by name."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.error: AppError | None = None

    def __enter__(self) -> raises:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        __tracebackhide__ = True
        import pytest

        if exc is None:
            pytest.fail(f"expected the code to raise {self.name}; it returned normally", pytrace=False)
        if not isinstance(exc, AppError):
            return False
        if self.name not in exc.type_names:
            pytest.fail(f"expected the code to raise {self.name}; it raised {exc.headline()}", pytrace=False)
        self.error = exc
        return True
