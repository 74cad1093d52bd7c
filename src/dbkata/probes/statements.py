"""Probe 1: the SQL statements code issues inside a window, with the line that issued each.

Counted unit: one DBAPI cursor execution (``execute`` or ``executemany``), seen through class-level
``Engine`` events, so engines the exercise code creates itself are seen too. BEGIN/COMMIT are not
statements here. Lazy loads are attributed through ``Session.do_orm_execute``. Where the harness has a
superuser connection and the server has ``pg_stat_statements``, the server's own count cross-checks
the in-process one, so statements sent behind SQLAlchemy's back (a raw driver connection, removed
event listeners) are caught.
"""

from __future__ import annotations

import contextvars
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import ORMExecuteState, Session

from dbkata import feedback
from dbkata.exercise import TRACKER
from dbkata.probes.origin import caller_origin

_active: contextvars.ContextVar[tuple[StatementLog, ...]] = contextvars.ContextVar("dbkata_statements", default=())
_LITERALS = re.compile(r"'(?:[^']|'')*'|\$\d+|\b\d+\b|%\(\w+\)s")
_IN_LISTS = re.compile(r"\((?:\s*\?\s*,)+\s*\?\s*\)")
# Statements a server sees that are not "statements" in the in-process sense.
_SERVER_NOISE = re.compile(
    r"^\s*(begin|commit|rollback|savepoint|release|start transaction|set|show|reset|discard|deallocate|;|$)"
    r"|^\s*select pg_catalog\.version\(\)|^\s*select current_schema\(\)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Statement:
    """One cursor execution."""

    sql: str
    executemany: bool
    rows: int  # parameter sets sent (1 unless executemany)
    origin: str

    @property
    def verb(self) -> str:
        """``SELECT``, ``INSERT``, ... (the first keyword; ``WITH`` queries keep ``WITH``)."""
        return self.sql.lstrip().split(None, 1)[0].upper() if self.sql.strip() else ""

    @property
    def shape(self) -> str:
        """The statement with whitespace folded and literals/parameters replaced by ``?``."""
        folded = " ".join(self.sql.split())
        return _IN_LISTS.sub("(?, ...)", _LITERALS.sub("?", folded))


@dataclass
class StatementLog:
    """Everything recorded in one window."""

    statements: list[Statement] = field(default_factory=list)
    lazy_loads: Counter[str] = field(default_factory=Counter)
    server_count: int | None = None  # non-utility statement executions pg_stat_statements saw
    _admin: AsyncEngine | None = None
    _token: contextvars.Token[tuple[StatementLog, ...]] | None = None

    @property
    def count(self) -> int:
        """How many statements the window saw."""
        return len(self.statements)

    def of_kind(self, verb: str) -> list[Statement]:
        """The statements whose first keyword is ``verb`` (case-insensitive)."""
        return [s for s in self.statements if s.verb == verb.upper()]

    def summary(self, limit: int = 8) -> list[str]:
        """Statements grouped by shape, most frequent first, each with the line that issued it."""
        by_shape: dict[str, list[Statement]] = {}
        for s in self.statements:
            by_shape.setdefault(s.shape, []).append(s)
        ranked = sorted(by_shape.values(), key=lambda group: -len(group))
        lines = [f"{len(g):>4} × {_clip(g[0].shape)}\n         from {g[0].origin}" for g in ranked[:limit]]
        if len(ranked) > limit:
            lines.append(f"       … and {len(ranked) - limit} more distinct statements")
        return lines

    def assert_at_most(self, limit: int, what: str, advice: str | None = None) -> None:
        """Fail (student-facing) when more than ``limit`` statements ran, or some bypassed SQLAlchemy."""
        __tracebackhide__ = True
        self._record(what)
        self.assert_nothing_hidden(what)
        if self.count > limit:
            feedback.fail(
                f"{what} issues too many SQL statements",
                f"Expected at most {limit} SQL statement(s); {self.count} were executed:",
                *self.summary(),
                *self._lazy_lines(),
                advice=advice or "Look for a query that runs once per row.",
            )

    def assert_nothing_hidden(self, what: str) -> None:
        """Fail when the server saw more statements than SQLAlchemy reported (counting cannot be dodged)."""
        __tracebackhide__ = True
        expected = sum(s.rows for s in self.statements)
        if self.server_count is not None and self.server_count > expected:
            feedback.fail(
                f"{what} sends SQL that bypasses SQLAlchemy",
                f"PostgreSQL executed {self.server_count} statement(s); SQLAlchemy issued {expected}.",
                "Statements were sent on a raw driver connection, or SQLAlchemy's event hooks were removed.",
                advice="Run every query through the SQLAlchemy session or engine.",
            )

    def _lazy_lines(self) -> list[str]:
        return [f"Lazy loads: {attr} ×{n}" for attr, n in self.lazy_loads.most_common(3)]

    def _record(self, what: str) -> None:
        feedback.record_evidence(
            f"statements: {what}",
            {
                "count": self.count,
                "server_count": self.server_count,
                "shapes": dict(Counter(s.shape for s in self.statements).most_common(20)),
                "lazy_loads": dict(self.lazy_loads),
            },
        )

    # -- the window ---------------------------------------------------------------------------------

    def __enter__(self) -> StatementLog:
        _install()
        self._token = _active.set((*_active.get(), self))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _active.reset(self._token)

    async def __aenter__(self) -> StatementLog:
        if self._admin is not None:
            await _server_stats(self._admin, reset=True)
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)
        if self._admin is not None:
            self.server_count = await _server_stats(self._admin, reset=False)


def statements(admin: AsyncEngine | None = None) -> StatementLog:
    """A window recording statements; pass the ``admin`` engine to cross-check with the server."""
    return StatementLog(_admin=admin)


async def assert_statements_constant(
    seed: Callable[[int], Awaitable[Any]],
    run: Callable[[], Awaitable[Any]],
    *,
    sizes: Sequence[int] = (10, 600),
    what: str,
    noun: str = "rows",
    advice: str | None = None,
) -> list[tuple[int, int]]:
    """Run ``run`` after ``seed(n)`` for each size; fail unless the statement count is the same for all."""
    __tracebackhide__ = True
    counts: list[tuple[int, int]] = []
    logs: list[StatementLog] = []
    for n in sizes:
        await seed(n)
        with statements() as log:
            await run()
        counts.append((n, log.count))
        logs.append(log)
    feedback.record_evidence(f"statement counts: {what}", dict(counts))
    if len({c for _, c in counts}) > 1:
        worst = logs[-1]
        feedback.fail(
            f"{what} issues more SQL statements as the data grows",
            "; ".join(f"{n} {noun} → {c} statement(s)" for n, c in counts) + ".",
            f"With {sizes[-1]} {noun}, the statements were:",
            *worst.summary(4),
            *worst._lazy_lines(),
            advice=advice or f"Fetch what every one of the {noun} needs with a fixed number of queries.",
        )
    return counts


# -- event plumbing -----------------------------------------------------------------------------------


def _on_cursor(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    logs = _active.get()
    if not logs or conn.engine in TRACKER.harness:
        return
    rows = len(parameters) if executemany and isinstance(parameters, (list, tuple)) else 1
    record = Statement(statement, executemany, rows, caller_origin())
    for log in logs:
        log.statements.append(record)


def _on_orm_execute(state: ORMExecuteState) -> None:
    logs = _active.get()
    # lazy_loaded_from raises for non-SELECT states: check is_select first (never raise into student code)
    if not logs or not state.is_select or state.lazy_loaded_from is None:
        return
    path = state.loader_strategy_path
    key = getattr(path[-1], "key", "?") if path is not None and len(path) else "?"
    attribute = f"{state.lazy_loaded_from.class_.__name__}.{key}"
    for log in logs:
        log.lazy_loads[attribute] += 1


def _install() -> None:
    if not event.contains(Engine, "before_cursor_execute", _on_cursor):
        event.listen(Engine, "before_cursor_execute", _on_cursor)
        event.listen(Session, "do_orm_execute", _on_orm_execute)


async def _server_stats(admin: AsyncEngine, *, reset: bool) -> int | None:
    """Reset, or read, pg_stat_statements for the current database and the app role (superuser only)."""
    async with admin.connect() as conn:
        me = (
            await conn.execute(
                text(
                    "select rolsuper, exists(select 1 from pg_extension where extname = 'pg_stat_statements') "
                    "from pg_roles where rolname = current_user"
                )
            )
        ).one()
        if not (me[0] and me[1]):
            return None
        if reset:
            await conn.execute(
                text(
                    "select pg_stat_statements_reset(0, (select oid from pg_database "
                    "where datname = current_database()), 0)"
                )
            )
            return None
        rows = (
            await conn.execute(
                text(
                    "select query, calls from pg_stat_statements s join pg_roles r on r.oid = s.userid "
                    "where s.dbid = (select oid from pg_database where datname = current_database()) "
                    "and not r.rolsuper"
                )
            )
        ).all()
    return sum(int(calls) for query, calls in rows if not _SERVER_NOISE.match(query))


def _clip(sql: str, width: int = 110) -> str:
    return sql if len(sql) <= width else sql[: width - 1] + "…"
