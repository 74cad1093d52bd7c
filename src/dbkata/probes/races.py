"""Probe 4: truly concurrent transactions, made deterministic by a gate inside the database.

A ``BEFORE`` trigger on the gated table takes a shared advisory lock; the harness holds that lock
exclusively while it starts every contender, waits (polling ``pg_stat_activity``, never sleeping a
fixed time) until each is blocked on a lock or finished, then opens the gate. Every interleaving
that can go wrong therefore does go wrong, on every run: two read-modify-writes both read the old
value; opposite transfers both hold their first row. Outcomes are classified by SQLSTATE.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dbkata import feedback

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
        return f"{self.kind}{state}: {type(self.error).__name__}: {str(self.error).splitlines()[0][:120]}"


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


async def race(
    admin: AsyncEngine,
    contenders: Sequence[Callable[[], Awaitable[Any]]],
    *,
    gate: tuple[str, str],
    max_wait: float = 10.0,
) -> list[Outcome]:
    """Run ``contenders`` concurrently behind a gate on ``(table, "UPDATE"|"INSERT"|"DELETE")``."""
    table, operation = gate
    await _install_gate(admin, table, operation.upper())
    try:
        async with admin.connect() as holder:
            await holder.execute(text(f"select pg_advisory_lock({GATE_KEY})"))
            await holder.commit()
            tasks = [asyncio.ensure_future(c()) for c in contenders]
            arrived = await _wait_until_parked(holder, tasks, max_wait)
            await holder.execute(text(f"select pg_advisory_unlock({GATE_KEY})"))
            await holder.commit()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await _remove_gate(admin, table)
    outcomes = [
        Outcome(None, r, sqlstate_of(r)) if isinstance(r, BaseException) else Outcome(r, None, None) for r in results
    ]
    feedback.record_evidence(
        "race", {"gate": f"{operation} {table}", "all_parked": arrived, "outcomes": [o.describe() for o in outcomes]}
    )
    return outcomes


async def _wait_until_parked(conn: Any, tasks: Sequence[asyncio.Future[Any]], max_wait: float) -> bool:
    """Poll until every contender is waiting on a lock or done; False if ``max_wait`` s passed first."""
    deadline = time.monotonic() + max_wait
    while True:
        waiting = (
            await conn.execute(
                text(
                    "select count(*) from pg_stat_activity where datname = current_database() "
                    "and pid <> pg_backend_pid() and wait_event_type = 'Lock'"
                )
            )
        ).scalar_one()
        await conn.commit()
        if waiting + sum(t.done() for t in tasks) >= len(tasks):
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.003)


async def _install_gate(admin: AsyncEngine, table: str, operation: str) -> None:
    async with admin.begin() as conn:
        await conn.execute(
            text(
                "create or replace function dbkata_gate() returns trigger language plpgsql as $$ begin "
                f"perform pg_advisory_xact_lock_shared({GATE_KEY}); return coalesce(new, old); end $$"
            )
        )
        await conn.execute(
            text(
                f'create trigger dbkata_gate before {operation} on "{table}" '
                "for each row execute function dbkata_gate()"
            )
        )


async def _remove_gate(admin: AsyncEngine, table: str) -> None:
    async with admin.begin() as conn:
        await conn.execute(text(f'drop trigger if exists dbkata_gate on "{table}"'))
        await conn.execute(text("drop function if exists dbkata_gate()"))
