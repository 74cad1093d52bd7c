"""PostgreSQL v3 wire protocol: framing, the fields the relay reads, and what counts as a statement.

Only what the relay needs is decoded: the startup packet, then typed messages (one type byte, an
Int32 length that includes itself, the body). Everything is forwarded byte for byte.
"""

from __future__ import annotations

import re
import struct

import asyncpg.introspection  # type: ignore[import-untyped]

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102

_INT32 = struct.Struct("!i")

# -- what is not a statement ---------------------------------------------------------------------------

# Transaction control: the first keyword of the statement (after leading comments and whitespace).
_TRANSACTION_CONTROL = frozenset({"begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release"})

# The exact texts a driver or SQLAlchemy's dialect sends by itself: on connect, for type introspection.
# Compared whole, never by substring, so a comment added to a real query cannot make it noise.
_ASYNCPG_JIT_OFF = """
                    SELECT
                        current_setting('jit') AS cur,
                        set_config('jit', 'off', false) AS new
                    """
_ASYNCPG_JIT_RESTORE = """
                SELECT
                    set_config('jit', $1, false)
                """
DRIVER_NOISE = frozenset(
    {
        # SQLAlchemy's PostgreSQL dialect, on an engine's first connection (first_connect/initialize)
        "select pg_catalog.version()",
        "select current_schema()",
        "show transaction isolation level",
        "show standard_conforming_strings",
        # asyncpg's type introspection (asyncpg/connection.py, asyncpg/introspection.py)
        asyncpg.introspection.INTRO_LOOKUP_TYPES,
        asyncpg.introspection.INTRO_LOOKUP_TYPES_13,
        asyncpg.introspection.TYPE_BY_NAME,
        _ASYNCPG_JIT_OFF,
        _ASYNCPG_JIT_RESTORE,
        "",  # an empty query (pool_pre_ping's ";") runs nothing
    }
)

_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*(?:[^*]|\*(?!/))*\*/)*")
_WORD = re.compile(r"[A-Za-z_]+")


def first_keyword(sql: str) -> str:
    """The statement's first keyword, lower case, after leading whitespace and comments."""
    rest = sql[_LEADING.match(sql).end() :]  # type: ignore[union-attr]
    word = _WORD.match(rest)
    return word.group(0).lower() if word else ""


def is_counted(sql: str) -> bool:
    """Whether ``sql`` counts as a statement: not transaction control, not a driver's own text."""
    if sql in DRIVER_NOISE or not sql.strip():
        return False
    return first_keyword(sql) not in _TRANSACTION_CONTROL


def split_simple_query(query: str, standard_strings: bool = True) -> list[str]:
    """The statements of a simple Query message: split on ``;`` outside quotes, dollar quotes, comments.

    ``standard_strings`` is the session's ``standard_conforming_strings``: when it is off, a backslash
    escapes the next character in every ``'...'`` string, not only in ``E'...'`` ones.
    """
    parts: list[str] = []
    start = i = 0
    n = len(query)
    while i < n:
        c = query[i]
        if c in "'\"":
            i = _after_quoted(query, i, c, standard_strings)
        elif c == "-" and query.startswith("--", i):
            end = query.find("\n", i)
            i = n if end < 0 else end + 1
        elif c == "/" and query.startswith("/*", i):
            i = _after_block_comment(query, i)
        elif c == "$":
            i = _after_dollar(query, i)
        elif c == ";":
            parts.append(query[start:i])
            i += 1
            start = i
        else:
            i += 1
    parts.append(query[start:])
    return [p.strip() for p in parts if p.strip()]


def _after_quoted(query: str, i: int, quote: str, standard_strings: bool) -> int:
    # Backslash escapes exist only in E'...' strings, unless standard_conforming_strings is off.
    escape_string = i > 0 and query[i - 1] in "eE" and (i < 2 or not _ident_char(query[i - 2]))
    escapes = quote == "'" and (escape_string or not standard_strings)
    i += 1
    while i < len(query):
        if query[i] == quote:
            if query.startswith(quote * 2, i):  # a doubled quote is part of the literal
                i += 2
                continue
            return i + 1
        if escapes and query[i] == "\\":
            i += 2
            continue
        i += 1
    return i


def _ident_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def _after_block_comment(query: str, i: int) -> int:
    depth, i = 1, i + 2  # PostgreSQL block comments nest
    while i < len(query) and depth:
        if query.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif query.startswith("*/", i):
            depth, i = depth - 1, i + 2
        else:
            i += 1
    return i


_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$")


def _after_dollar(query: str, i: int) -> int:
    if i > 0 and _ident_char(query[i - 1]):
        return i + 1  # part of an identifier, or $1 after a word
    tag = _DOLLAR_TAG.match(query, i)
    if tag is None:
        return i + 1
    end = query.find(tag.group(0), tag.end())
    return len(query) if end < 0 else end + len(tag.group(0))


# -- decoding ------------------------------------------------------------------------------------------


def int32(data: bytes | bytearray | memoryview, offset: int = 0) -> int:
    """The big-endian signed Int32 at ``offset``."""
    return int(_INT32.unpack_from(data, offset)[0])


def cstring(body: bytes | bytearray, offset: int = 0) -> tuple[str, int]:
    """The NUL-terminated string at ``offset`` (decoded as UTF-8) and the offset after it."""
    end = body.index(b"\0", offset)
    return bytes(body[offset:end]).decode("utf-8", "replace"), end + 1


def error_fields(body: bytes | bytearray) -> dict[str, str]:
    """The fields of an ErrorResponse/NoticeResponse body, keyed by their one-letter code."""
    fields: dict[str, str] = {}
    raw, i = bytes(body), 0
    while i < len(raw) and raw[i] != 0:
        code = chr(raw[i])
        value, i = cstring(raw, i + 1)
        fields[code] = value
    return fields


def error_response(sqlstate: str, message: str, severity: str = "FATAL") -> bytes:
    """An ErrorResponse message, as a server would send it."""
    body = b"".join(
        code + value.encode() + b"\0" for code, value in ((b"S", severity), (b"V", severity), (b"C", sqlstate))
    )
    body += b"M" + message.encode() + b"\0\0"
    return b"E" + _INT32.pack(len(body) + 4) + body


_LOCK_CLAUSE = re.compile(r"\bfor\s+(no\s+key\s+update|update|key\s+share|share)\b")


def takes_row_locks(sql: str, table: str) -> bool:
    """Whether ``sql`` locks rows of ``table``: ``UPDATE``/``DELETE`` on it, or a locking ``SELECT``."""
    folded = " ".join(sql.lower().replace('"', "").split())
    if not re.search(rf"\b{re.escape(table)}\b", folded):
        return False
    return first_keyword(folded) in ("update", "delete") or bool(_LOCK_CLAUSE.search(folded))
