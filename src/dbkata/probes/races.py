"""Probe 4: truly concurrent transactions, made deterministic by a gate the harness owns.

The harness starts every contender behind a gate, waits (polling, never sleeping a fixed time) until
each is parked at the gate, blocked on a lock, or finished, then opens it. Every interleaving that
can go wrong therefore goes wrong, on every run.

* ``race``: the gate is inside the database: the harness holds an advisory lock exclusively, and a
  ``BEFORE`` trigger on a table makes each contender take it (shared), so two read-modify-writes both
  read the old value before either writes. A contender that never reaches the database (held by a
  lock inside the code) would keep the gate shut for good: once nothing has moved on the server for a
  few seconds the gate opens, and the result says that not every contender arrived.
* ``lockstep``: the harness's relay holds back the server's answer to every statement that locks
  rows of a table (``UPDATE``/``DELETE``, ``SELECT ... FOR UPDATE/SHARE/NO KEY UPDATE/KEY SHARE``):
  the statement ran and its locks are held, but the code does not go on. The harness waits until
  every contender is parked at the relay, blocked on a lock (``pg_stat_activity``, for the backends
  the relay's connections reach, known from BackendKeyData) or finished, then lets all answers go.
  Opposite transfers therefore both hold their first row before either asks for its second. Every
  SQLSTATE the server sent meanwhile is read from the relay, so a deadlock that the code caught and
  retried is still seen.

Outcomes are classified by SQLSTATE.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dbkata import feedback, relay
from dbkata.relay import Relay
from dbkata.relay.protocol import takes_row_locks as takes_row_locks

# Seconds the gate waits for every contender to arrive before it lets them go anyway: a safety net for
# code that keeps the server busy without ever reaching the gate. A busy machine must not open the gate
# early, so the limit is far beyond any honest run.
_PATIENCE = 120.0
# Seconds in which nothing moves on the server before the gate gives up on contenders that never came:
# they are held inside the code (a lock, a queue), where no amount of waiting lets them arrive. An honest
# contender sends its next statement within milliseconds of CPU time; 5 s without one would take a
# process starved of the CPU for all of that time. (The app process is warmed, so the first request
# does not import the exercise; in-process, an import stalls this loop and restarts the quiet period.)
_SETTLE = 5.0
_POLL_GAP = 0.5  # a longer gap between two polls means this process was busy: the quiet period starts again
GATE_KEY = 731_540_001  # the advisory-lock key of the gate
_KINDS = {"40P01": "deadlock", "40001": "serialization_failure", "55P03": "lock_timeout", "57014": "timeout"}


@dataclass(frozen=True)
class Outcome:
    """How one contender ended."""

    value: Any
    error: BaseException | None
    sqlstate: str | None

    @property
    def kind(self) -> str:
        """``ok``, ``deadlock``, ``serialization_failure``, ``lock_timeout``, ``timeout`` or ``error``."""
        if self.error is None:
            return "ok"
        return _KINDS.get(self.sqlstate or "", "error")

    def describe(self) -> str:
        """``ok`` or e.g. ``deadlock (SQLSTATE 40P01): DBAPIError``."""
        if self.error is None:
            return "ok"
        state = f" (SQLSTATE {self.sqlstate})" if self.sqlstate else ""
        name = getattr(self.error, "type_name", type(self.error).__name__)
        first = str(self.error).splitlines()[0] if str(self.error) else ""
        return f"{self.kind}{state}: {name}: {first[:120]}"


def sqlstate_of(error: BaseException) -> str | None:
    """The SQLSTATE carried by a SQLAlchemy/asyncpg/psycopg error or anything it wraps."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for candidate in (current, getattr(current, "orig", None)):
            state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
            if isinstance(state, str):
                return state
        current = current.__cause__ or current.__context__
    return None


class Race(list[Outcome]):
    """How each contender ended (a list of :class:`Outcome`, in the contenders' order), and whether they met.

    ``all_arrived`` is False when the gate opened before every contender was parked at it, blocked on a
    lock or done: the ones missing were kept away from the database (a lock or a queue inside the code,
    or a pool too small for them) until nothing had moved on the server for ``settle`` seconds. Their
    outcomes then say nothing about a race, and a check should fail on it.
    """

    def __init__(self, outcomes: Sequence[Outcome], all_arrived: bool) -> None:
        super().__init__(outcomes)
        self.all_arrived = all_arrived


async def race(
    admin: AsyncEngine,
    contenders: Sequence[Callable[[], Awaitable[Any]]],
    *,
    gate: tuple[str, str],
    max_wait: float = _PATIENCE,
    settle: float = _SETTLE,
) -> Race:
    """Run ``contenders`` concurrently behind a gate on ``(table, "UPDATE"|"INSERT"|"DELETE")``.

    The operation names the write the contenders are expected to make; every row write to ``table``
    (INSERT, UPDATE or DELETE) waits at the gate, so none can slip past it by writing another way.
    """
    table, operation = gate
    installed = await _install_gate(admin, table)
    try:
        results, arrived = await _behind_the_gate(admin, contenders, max_wait, settle)
        await check_trigger(admin, installed, "hold every write to it until all contenders got there")
    finally:
        await _remove_gate(admin, table)
    outcomes = Race(_outcomes(results), arrived)
    feedback.record_evidence(
        "race", {"gate": f"{operation} {table}", "all_arrived": arrived, "outcomes": [o.describe() for o in outcomes]}
    )
    return outcomes


@dataclass(frozen=True)
class LockstepRun:
    """How each call ended, and every SQLSTATE PostgreSQL raised meanwhile (even ones code caught)."""

    outcomes: list[Outcome]
    database_errors: list[str]
    all_paused: bool  # False if the harness gave up waiting and let the calls go early

    @property
    def deadlocks(self) -> int:
        """How many times PostgreSQL broke a deadlock (SQLSTATE 40P01) during the run."""
        return self.database_errors.count("40P01")

    @property
    def lock_timeouts(self) -> int:
        """How many lock waits were given up (SQLSTATE 55P03: ``lock_timeout``, or ``NOWAIT``) during the run."""
        return self.database_errors.count("55P03")


async def lockstep(
    admin: AsyncEngine,
    calls: Sequence[Callable[[], Awaitable[Any]]],
    *,
    table: str,
    max_wait: float = _PATIENCE,
    via: Relay | None = None,
) -> LockstepRun:
    """Run ``calls`` concurrently, each held after its row-locking statements until all are held."""
    wire = via or relay.current()
    if wire is None:
        raise RuntimeError("dbkata.lockstep() holds answers at the test's relay, and none is running")
    mark = wire.mark()
    wire.hold_row_locks(table)
    tasks: list[asyncio.Future[Any]] = []
    try:
        tasks = [asyncio.ensure_future(call()) for call in calls]
        paused = await _wait_until_held(admin, wire, mark, tasks, max_wait)
    finally:
        wire.release_held()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    wire.settle()
    errors = [e.sqlstate for e in wire.errors(mark)]
    run = LockstepRun(_outcomes(results), errors, paused)
    feedback.record_evidence(
        "lockstep",
        {
            "table": table,
            "all_paused": paused,
            "database_errors": errors,
            "outcomes": [o.describe() for o in run.outcomes],
        },
    )
    return run


async def _behind_the_gate(
    admin: AsyncEngine, calls: Sequence[Callable[[], Awaitable[Any]]], max_wait: float, settle: float
) -> tuple[list[Any], bool]:
    """Hold the gate, start every call, wait until all are parked or done, open the gate, gather them."""
    async with admin.connect() as holder:
        await holder.execute(text(f"select pg_advisory_lock({GATE_KEY})"))
        await holder.commit()
        try:
            tasks = [asyncio.ensure_future(call()) for call in calls]
            parked = await _wait_until_parked(holder, tasks, max_wait, settle)
            await holder.execute(text(f"select pg_advisory_unlock({GATE_KEY})"))
            await holder.commit()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            await holder.execute(text("select pg_advisory_unlock_all()"))
            await holder.commit()
    return list(results), parked


def _outcomes(results: Sequence[Any]) -> list[Outcome]:
    return [
        Outcome(None, r, sqlstate_of(r)) if isinstance(r, BaseException) else Outcome(r, None, None) for r in results
    ]


async def _wait_until_held(
    admin: AsyncEngine, wire: Relay, mark: int, tasks: Sequence[asyncio.Future[Any]], max_wait: float
) -> bool:
    """Poll until every call is held at the relay, waiting on a lock, or done; False after ``max_wait`` s."""
    deadline = time.monotonic() + max_wait
    async with admin.connect() as conn:
        while True:
            active = {s.conn for s in wire.statements(mark)}
            mine = [c for c in wire.connections() if c.open and (c.opened_at >= mark or c.id in active)]
            held = sum(c.parked for c in mine)
            done = sum(t.done() for t in tasks)
            pids = [c.backend_pid for c in mine if not c.parked and c.backend_pid is not None]
            waiting = 0
            if held + done < len(tasks) and pids:
                waiting = (
                    await conn.execute(
                        text(
                            "select count(*) from pg_stat_activity where pid = any(:pids) and wait_event_type = 'Lock'"
                        ),
                        {"pids": pids},
                    )
                ).scalar_one()
                await conn.commit()
            if held + waiting + done >= len(tasks):
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.003)


async def _wait_until_parked(conn: Any, tasks: Sequence[asyncio.Future[Any]], max_wait: float, settle: float) -> bool:
    """Poll until every contender is waiting on a lock or done; False once nothing moves, or after ``max_wait``.

    "Nothing moves": the database's client sessions (state, statement start, lock wait) and the number
    of finished contenders stay the same for ``settle`` seconds of polling. Only time this loop really
    spent polling counts: a gap between two polls (this process's event loop was busy, say importing
    the exercise in-process) starts the quiet period again, so a slow machine waits longer, never less.
    """
    deadline = time.monotonic() + max_wait
    last: object = None
    quiet_since = polled = time.monotonic()
    while True:
        sessions = (
            await conn.execute(
                text(
                    "select pid, state, query_start, wait_event_type = 'Lock' from pg_stat_activity "
                    "where datname = current_database() and pid <> pg_backend_pid() "
                    "and backend_type = 'client backend' order by pid"
                )
            )
        ).all()
        await conn.commit()
        done = sum(t.done() for t in tasks)
        if sum(1 for s in sessions if s[3]) + done >= len(tasks):
            return True
        now = time.monotonic()
        seen = ([tuple(s) for s in sessions], done)
        if seen != last or now - polled > _POLL_GAP:
            last, quiet_since = seen, now
        elif now - quiet_since > settle:
            return False
        polled = now
        if now > deadline:
            return False
        await asyncio.sleep(0.003)


async def harness_ddl(admin: AsyncEngine, *statements: str) -> None:
    """Run the harness's DDL (triggers, functions) without hanging behind a transaction the code abandoned.

    DDL on a table waits for every transaction holding a lock on it, and a leaked session holds its
    locks until garbage collection. So the DDL gets a short lock_timeout; if it times out, sessions
    left idle in a transaction are ended (a leak probe has judged them by then) and the DDL is retried.
    """
    for attempt in (1, 2):
        try:
            async with admin.begin() as conn:
                await conn.execute(text("set local lock_timeout = '2s'"))
                for statement in statements:
                    await conn.execute(text(statement))
            return
        except Exception as exc:
            if attempt == 2 or sqlstate_of(exc) != "55P03":
                raise
        async with admin.connect() as conn:
            await conn.execute(
                text(
                    "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() "
                    "and pid <> pg_backend_pid() and state like 'idle in transaction%'"
                )
            )
            await conn.commit()


@dataclass(frozen=True)
class HarnessTrigger:
    """A trigger the harness put on a table of the code under test, as it was installed."""

    table: str
    name: str
    oid: int
    function: int
    version: str  # the xmin of its pg_trigger row: disabling and enabling it again makes a new one


async def install_trigger(admin: AsyncEngine, table: str, name: str, *ddl: str) -> HarnessTrigger:
    """Run ``ddl`` (which creates trigger ``name`` on ``table``) and note what it created.

    The code under test owns its tables (and, owning the database, the ``public`` schema), so it may
    drop, disable or re-create a trigger on them: :func:`check_trigger` tells afterwards.
    """
    await harness_ddl(admin, *ddl)
    async with admin.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "select t.oid::int8, t.tgfoid::int8, t.xmin::text from pg_catalog.pg_trigger t "
                    "join pg_catalog.pg_proc p on p.oid = t.tgfoid "
                    "where t.tgrelid = pg_catalog.to_regclass(:table) and t.tgname = :name "
                    "and p.proowner = (select r.oid from pg_catalog.pg_roles r where r.rolname = current_user)"
                ),
                {"table": f'public."{table}"', "name": name},
            )
        ).one()
    return HarnessTrigger(table, name, int(row[0]), int(row[1]), str(row[2]))


async def check_trigger(admin: AsyncEngine, trigger: HarnessTrigger, purpose: str) -> None:
    """Fail the test (student-facing) if ``trigger`` was dropped, disabled (even if enabled again) or re-bound."""
    __tracebackhide__ = True
    async with admin.connect() as conn:
        intact = (
            await conn.execute(
                text(
                    "select count(*) from pg_catalog.pg_trigger t where t.oid = :oid and t.tgfoid = :function "
                    "and t.xmin::text = :version and t.tgenabled in ('O', 'A') "
                    "and t.tgrelid = pg_catalog.to_regclass(:table)"
                ),
                {
                    "oid": trigger.oid,
                    "function": trigger.function,
                    "version": trigger.version,
                    "table": f'public."{trigger.table}"',
                },
            )
        ).scalar_one()
    if not intact:
        feedback.fail(
            "the code under test removed a trigger of the checks",
            f"The checks put trigger {trigger.name} on table {trigger.table} to {purpose}. When they took it "
            "off again, it had been dropped, disabled (perhaps for a while only) or replaced.",
            "What the test observed meanwhile cannot be trusted, so it fails. Expected: the code leaves alone "
            "the triggers it did not create.",
        )


async def _install_gate(admin: AsyncEngine, table: str) -> HarnessTrigger:
    # dropped first: a function of that name the code created itself would stay the code's (and
    # replaceable by it) through CREATE OR REPLACE; qualified and pinned, so no search_path of the
    # contenders' sessions can swap the lock function for one of their own
    return await install_trigger(
        admin,
        table,
        "dbkata_gate",
        "drop function if exists dbkata_gate() cascade",
        "create function dbkata_gate() returns trigger language plpgsql set search_path = pg_catalog, pg_temp "
        f"as $$ begin perform pg_catalog.pg_advisory_xact_lock_shared({GATE_KEY}); return coalesce(new, old); end $$",
        # every kind of row write waits, whichever the check names: code cannot slip past the gate by
        # writing its change another way (a DELETE and an INSERT instead of an UPDATE)
        f'create trigger dbkata_gate before insert or update or delete on "{table}" '
        "for each row execute function dbkata_gate()",
    )


async def _remove_gate(admin: AsyncEngine, table: str) -> None:
    await harness_ddl(
        admin, f'drop trigger if exists dbkata_gate on "{table}"', "drop function if exists dbkata_gate() cascade"
    )
