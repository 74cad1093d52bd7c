"""Probe 1: the SQL statements code sends inside a window, decided on the wire, explained in-process.

The count comes from the harness's relay (``dbkata.relay``): every statement the code's connections
sent to PostgreSQL, whatever sent it (SQLAlchemy, ``text()``, another engine, a raw asyncpg or psycopg
connection). Transaction control and the exact texts drivers send by themselves are not statements;
an ``executemany`` of N parameter sets is N statements, one ``insertmanyvalues`` batch is one (see
``dbkata.relay.relay``). SQLAlchemy's events (class-level ``Engine`` and ``Session`` listeners) only
explain: they attach the line that issued each statement, matched by SQL text in order, and name the
lazy loads. A statement they did not see is still counted, and the message says so.

Lazy loads are decided on the wire too: SQLAlchemy's lazy loader (and ``refresh(obj, ["collection"])``,
``awaitable_attrs``, ``immediateload``, which run it) puts the parent's key on the left of the join
condition, ``WHERE $1::INTEGER = order_item.order_id``, where a query written by hand or an eager
loader compares the column first (``order_item.order_id = $1``, ``... IN ($1, $2)``). A collection
loaded that way counts as a lazy load even when the events saw nothing (the code ran in another
process, or hid from them); the events only name the attribute.
"""

from __future__ import annotations

import contextvars
import re
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState, Session

from dbkata import feedback, relay
from dbkata.exercise import TRACKER
from dbkata.probes.origin import caller_origin
from dbkata.relay import LimitHit, Relay

_active: contextvars.ContextVar[tuple[StatementLog, ...]] = contextvars.ContextVar("dbkata_statements", default=())
_LITERALS = re.compile(r"'(?:[^']|'')*'|\$\d+|\b\d+\b|%\(\w+\)s")
_IN_LISTS = re.compile(r"\((?:\s*\?\s*,)+\s*\?\s*\)")
_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)'
# The lazy loader's WHERE: a bound parameter (cast or not), then `=`, then table.column (maybe quoted)
_LAZY_WHERE = re.compile(
    rf"\b(?:WHERE|AND)\s+\$\d+(?:::[\w ]+?)?\s*=\s*(?:{_IDENT}\.)?({_IDENT})\.({_IDENT})", re.IGNORECASE
)
UNSEEN = "a connection SQLAlchemy's events did not see"  # the origin of a statement only the wire saw
_recording: list[Statement] | None = None  # every in-process statement of the test, for `dbkata sql`


@dataclass(frozen=True)
class Statement:
    """One statement: its SQL and the line that issued it (``UNSEEN`` when SQLAlchemy did not see it)."""

    sql: str
    executemany: bool
    rows: int  # parameter sets (in-process records of an executemany carry several)
    origin: str
    sqlstate: str | None = None

    @property
    def verb(self) -> str:
        """``SELECT``, ``INSERT``, ... (the first keyword; ``WITH`` queries keep ``WITH``)."""
        return self.sql.lstrip().split(None, 1)[0].upper() if self.sql.strip() else ""

    @property
    def lazy_load(self) -> str | None:
        """``"order_item by order_id"`` when this is SQLAlchemy's lazy-load query for a collection, else None."""
        if self.verb != "SELECT":
            return None
        found = _LAZY_WHERE.search(self.sql)
        return f"{_unquote(found[1])} by {_unquote(found[2])}" if found else None

    @property
    def shape(self) -> str:
        """The statement with whitespace folded and literals/parameters replaced by ``?``."""
        folded = " ".join(self.sql.split())
        return _IN_LISTS.sub("(?, ...)", _LITERALS.sub("?", folded))


@dataclass
class StatementLog:
    """Everything recorded in one window: ``statements`` as the wire saw them, each with its origin."""

    statements: list[Statement] = field(default_factory=list)
    lazy_loads: Counter[str] = field(default_factory=Counter)
    in_process: list[Statement] = field(default_factory=list)  # what SQLAlchemy's events reported
    stopped: LimitHit | None = None  # the relay stopped the code: more than ``stop_after`` statements
    stop_after: int | None = None
    what: str | None = None
    advice: str | None = None
    _relay: Relay | None = None
    _mark: int = 0
    _batches: set[tuple[int, int]] = field(default_factory=set)
    _token: contextvars.Token[tuple[StatementLog, ...]] | None = None

    @property
    def count(self) -> int:
        """How many statements the window sent (on the wire)."""
        return len(self.statements)

    @property
    def round_trips(self) -> int:
        """How many round trips carried them: an ``executemany`` pipelined under one Sync is one."""
        return len(self._batches)

    @property
    def unseen(self) -> int:
        """How many of them SQLAlchemy's events did not report (raw driver, another process)."""
        return sum(s.origin == UNSEEN for s in self.statements)

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
        """Fail (student-facing) when more than ``limit`` statements were sent."""
        __tracebackhide__ = True
        self._record(what)
        if self.count > limit:
            sent = (
                f"the code was stopped at statement {self.count}"
                if self.stopped is not None
                else f"{self.count} were executed"
            )
            feedback.fail(
                f"{what} issues too many SQL statements",
                f"Expected at most {limit} SQL statement(s); {sent}:",
                *self.summary(),
                *self.explain_lines(),
                advice=advice or "Look for a query that runs once per row.",
            )

    def assert_round_trips_at_most(self, limit: int, what: str, advice: str | None = None) -> None:
        """Fail (student-facing) when the statements took more than ``limit`` round trips to the server.

        The unit for "per-row work": rows sent together (an ``executemany``, pipelined under one Sync)
        travel in one round trip, a statement per row in a Python loop takes one each.
        """
        __tracebackhide__ = True
        self._record(what)
        if self.round_trips > limit:
            feedback.fail(
                f"{what} makes too many round trips to the database",
                f"Expected at most {limit} round trip(s) (rows sent together in one batch count once); "
                f"{self.round_trips} carried {self.count} statement(s):",
                *self.summary(),
                *self.explain_lines(),
                advice=advice or "Look for a query that runs once per row.",
            )

    def explain_lines(self) -> list[str]:
        """Lazy loads, and statements SQLAlchemy's events did not see (for a failure message)."""
        lines = [f"Lazy loads: {attr} ×{n}" for attr, n in self.lazy_loads.most_common(3)]
        if self.unseen and self.in_process:
            lines.append(
                f"{self.unseen} statement(s) did not go through SQLAlchemy's events "
                "(a raw driver connection?): PostgreSQL received them all the same."
            )
        return lines

    def _record(self, what: str) -> None:
        feedback.record_evidence(
            f"statements: {what}",
            {
                "count": self.count,
                "in_process": sum(s.rows for s in self.in_process),
                "unseen": self.unseen,
                "round_trips": self.round_trips,
                "stopped_at": self.stopped.count if self.stopped else None,
                "shapes": dict(Counter(s.shape for s in self.statements).most_common(20)),
                "lazy_loads": dict(self.lazy_loads),
            },
        )

    # -- the window ---------------------------------------------------------------------------------

    def __enter__(self) -> StatementLog:
        _install()
        self._relay = self._relay or relay.current()
        if self._relay is None:
            raise RuntimeError(
                "dbkata.statements() counts on the test's relay, and none is running: "
                "use the `exercise` (or `dbkata_relay`) fixture"
            )
        self._mark = self._relay.mark()
        if self.stop_after is not None:
            self._relay.limit_statements(self.stop_after)
        self._token = _active.set((*_active.get(), self))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        __tracebackhide__ = True
        if self._token is not None:
            _active.reset(self._token)
        assert self._relay is not None
        self._relay.settle()
        if self.stop_after is not None:
            hits = self._relay.limit_hits()
            self._relay.limit_statements(None)
            self.stopped = hits[0] if hits else None
        wire = [s for s in self._relay.statements(self._mark) if s.counted]
        self.statements = _explain(wire, self.in_process)
        on_the_wire = Counter(s.lazy_load for s in self.statements if s.lazy_load)
        if on_the_wire and not self.lazy_loads:  # decided on the wire; the events, when they ran, name them
            self.lazy_loads.update({f"{what} (lazy-load SQL)": n for what, n in on_the_wire.items()})
        self._batches = {(s.conn, s.batch) for s in wire}
        if self.stopped is not None and self.stop_after is not None:
            self.assert_at_most(self.stop_after, self.what or "the code", self.advice)

    async def __aenter__(self) -> StatementLog:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        __tracebackhide__ = True
        self.__exit__(exc_type, exc, tb)


def statements(
    *, stop_after: int | None = None, what: str | None = None, advice: str | None = None, via: Relay | None = None
) -> StatementLog:
    """A window counting the statements sent through the test's relay (or ``via``).

    With ``stop_after=n``, the relay stops the code at its (n+1)th statement (the connection is closed)
    and the window fails at exit with the budget message for ``what``, whatever the code did next.
    """
    return StatementLog(stop_after=stop_after, what=what, advice=advice, _relay=via)


def start_recording() -> None:
    """Record the origin of every statement the code under test issues from now on, window or not."""
    global _recording
    _install()
    _recording = []


def stop_recording(wire: Sequence[relay.WireStatement]) -> list[Statement]:
    """The counted ``wire`` statements since ``start_recording``, each with the line that issued it."""
    global _recording
    seen, _recording = _recording or [], None
    return _explain([w for w in wire if w.counted], seen)


def _explain(wire: Sequence[relay.WireStatement], seen: Sequence[Statement]) -> list[Statement]:
    """The wire statements, each given the origin of the in-process record with the same SQL, in order."""
    origins: defaultdict[str, deque[str]] = defaultdict(deque)
    for s in seen:
        origins[s.sql].extend([s.origin] * s.rows)
    out = []
    for w in wire:
        queue = origins.get(w.sql)
        out.append(Statement(w.sql, False, 1, queue.popleft() if queue else UNSEEN, w.sqlstate))
    return out


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
            *worst.explain_lines(),
            advice=advice or f"Fetch what every one of the {noun} needs with a fixed number of queries.",
        )
    return counts


# -- event plumbing (explanation only) ----------------------------------------------------------------


def _on_cursor(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    logs = _active.get()
    if (not logs and _recording is None) or conn.engine in TRACKER.harness:
        return
    rows = len(parameters) if executemany and isinstance(parameters, (list, tuple)) else 1
    record = Statement(statement, executemany, rows, caller_origin())
    for log in logs:
        log.in_process.append(record)
    if _recording is not None:
        _recording.append(record)


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


def _unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


def _clip(sql: str, width: int = 110) -> str:
    return sql if len(sql) <= width else sql[: width - 1] + "…"
