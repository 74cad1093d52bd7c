"""Test helper (given, used by the tests): make concurrent transactions overlap the same way on every run.

``lockstep(admin, calls)`` starts every call at once and pauses each one right after each statement
that locks rows of ``table`` (``SELECT ... FOR UPDATE``/``FOR SHARE``, ``UPDATE``, ``DELETE``), until
every call is paused there, waiting for a row lock, or finished. Then all of them go on together.
Two opposite transfers therefore always both hold their first row before either asks for its
second: the interleaving that deadlocks, if the code can deadlock at all. No sleeps, no timing.

The pause is a shared advisory lock taken by the paused transaction itself, while the harness holds
the same lock exclusively; it is released when that transaction ends.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from dbkata import Outcome, sqlstate_of

GATE_KEY = 731_540_206
_LOCK_CLAUSE = re.compile(r"\bfor\s+(no\s+key\s+update|update|key\s+share|share)\b")


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


def takes_row_locks(sql: str, table: str) -> bool:
    """Whether ``sql`` locks rows of ``table``: ``UPDATE``/``DELETE`` on it, or a locking ``SELECT``."""
    folded = " ".join(sql.lower().replace('"', "").split())
    if not re.search(rf"\b{re.escape(table)}\b", folded):
        return False
    return folded.startswith(("update ", "delete ")) or bool(_LOCK_CLAUSE.search(folded))


async def lockstep(admin: AsyncEngine, calls: Sequence[Callable[[], Awaitable[Any]]], *,
                   table: str = "account", max_wait: float = 10.0) -> LockstepRun:
    """Run ``calls`` concurrently, each paused after its row-locking statements until all are paused."""
    errors: list[str] = []
    async with admin.connect() as holder:
        await holder.execute(text(f"select pg_advisory_lock({GATE_KEY})"))
        await holder.commit()
        try:
            with _pause_after_locks(table), _database_errors(errors):
                tasks = [asyncio.ensure_future(call()) for call in calls]
                paused = await _wait_until_paused(holder, tasks, max_wait)
                await holder.execute(text(f"select pg_advisory_unlock({GATE_KEY})"))
                await holder.commit()
                results = await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            await holder.execute(text("select pg_advisory_unlock_all()"))
            await holder.commit()
    outcomes = [Outcome(None, r, sqlstate_of(r)) if isinstance(r, BaseException) else Outcome(r, None, None)
                for r in results]
    return LockstepRun(outcomes, errors, paused)


@contextmanager
def _pause_after_locks(table: str) -> Iterator[None]:
    def after_cursor_execute(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if takes_row_locks(statement, table):
            # A second cursor on the same driver connection, so the first one's rows stay intact.
            gate = conn.connection.dbapi_connection.cursor()
            try:
                gate.execute(f"select pg_advisory_xact_lock_shared({GATE_KEY})")
            finally:
                gate.close()

    event.listen(Engine, "after_cursor_execute", after_cursor_execute)
    try:
        yield
    finally:
        event.remove(Engine, "after_cursor_execute", after_cursor_execute)


@contextmanager
def _database_errors(errors: list[str]) -> Iterator[None]:
    def handle_error(context: Any) -> None:
        state = sqlstate_of(context.original_exception)
        if state:
            errors.append(state)

    event.listen(Engine, "handle_error", handle_error)
    try:
        yield
    finally:
        event.remove(Engine, "handle_error", handle_error)


async def _wait_until_paused(holder: Any, tasks: list[asyncio.Future[Any]], max_wait: float) -> bool:
    deadline = time.monotonic() + max_wait
    while True:
        waiting = (await holder.execute(text(
            "select count(*) from pg_stat_activity where datname = current_database() "
            "and pid <> pg_backend_pid() and wait_event_type = 'Lock'"))).scalar_one()
        await holder.commit()
        if waiting + sum(t.done() for t in tasks) >= len(tasks):
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.003)  # polling interval only: nothing waits on the clock
