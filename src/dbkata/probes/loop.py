"""Probe 6: is the event loop blocked? Measured as concurrency and stalls, never as a wall-time budget.

``peak_concurrency`` samples ``pg_stat_activity`` from a separate thread while requests run, so it
sees the truth even when the event loop itself is frozen by a synchronous call: code that blocks the
loop can never have two queries active at once, however long each takes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from dbkata import feedback
from dbkata.exercise import TRACKER


async def peak_concurrency(
    admin: AsyncEngine, contenders: Sequence[Callable[[], Awaitable[Any]]], *, interval: float = 0.002
) -> int:
    """Run ``contenders`` together; return the most queries of this database seen active at once."""
    sampler = create_engine(admin.url.set(drivername="postgresql+psycopg"), poolclass=NullPool)
    TRACKER.harness.add(sampler)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        with sampler.connect() as conn:
            while not stop.is_set():
                active = conn.execute(
                    text(
                        "select count(*) from pg_stat_activity where datname = current_database() "
                        "and pid <> pg_backend_pid() and backend_type = 'client backend' and state = 'active'"
                    )
                ).scalar_one()
                conn.rollback()
                peak = max(peak, int(active))
                time.sleep(interval)

    thread = threading.Thread(target=sample, name="dbkata-sampler", daemon=True)
    thread.start()
    try:
        await asyncio.gather(*(c() for c in contenders))
    finally:
        stop.set()
        await asyncio.to_thread(thread.join)
        sampler.dispose()
    feedback.record_evidence("peak_concurrency", {"contenders": len(contenders), "peak": peak})
    return peak


async def loop_stall(run: Callable[[], Awaitable[Any]], *, tick: float = 0.002) -> float:
    """The longest time (s) the event loop could not run a ticking task while ``run()`` executed."""
    longest = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal longest
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(tick)
            longest = max(longest, time.perf_counter() - before - tick)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # let the ticker start its first tick before the code can block the loop
    try:
        await run()
    finally:
        done.set()
        await task
    feedback.record_evidence("loop_stall_s", round(longest, 4))
    return longest


@dataclass
class HeldUp:
    """What :func:`answered_while_held` saw (``held_up`` and ``other`` are what the two calls returned)."""

    waited: bool  # the held-up call reached PostgreSQL and waited for the harness's lock
    answered: bool  # the other call finished while that lock was still held
    held_up: Any = None
    other: Any = None
    errors: list[BaseException] = field(default_factory=list)  # what either call raised, if anything
    finished_first: bool = False  # the held-up call was over before it was ever seen waiting

    def why_not(self, held_up: str, other: str) -> str:
        """Why ``other`` was not answered while ``held_up`` waited, in words; "" when it was.

        ``held_up`` and ``other`` name the two calls in the check's terms ("the create in list 1").
        """
        if self.errors:
            return f"They raised {type(self.errors[0]).__name__}: {self.errors[0]}"[:200]
        name = f"{held_up[:1].upper()}{held_up[1:]}"
        if not self.waited and self.finished_first:
            return f"{name} finished without waiting for the lock."
        if not self.waited:
            return (
                f"{name} never waited for the lock in PostgreSQL, nor finished while it was held: code that "
                "gives up on a locked row at once (NOWAIT, a short lock_timeout) and tries again stays out of "
                "the lock's queue."
            )
        if not self.answered:
            return f"{other[:1].upper()}{other[1:]} was not answered until the lock went (nothing moved for 5 s)."
        return ""


async def answered_while_held(
    admin: AsyncEngine,
    lock: str,
    held_up: Callable[[], Awaitable[Any]],
    other: Callable[[], Awaitable[Any]],
    *,
    settle: float = 5.0,
    patience: float = 60.0,
) -> HeldUp:
    """Is one call answered while another waits for the database? A verdict by order, never by speed.

    A thread of the harness takes ``lock`` (say ``lock table task in share mode``: writes wait, reads
    do not) and keeps it while ``held_up()`` runs into it; once that call waits in PostgreSQL, ``other()``
    (which needs nothing the lock holds) is started, and the lock stays until ``other()`` has finished,
    or until nothing has moved on the server for ``settle`` seconds (code that lets one request at a
    time in, or that blocks its event loop, stays stuck for good), or after ``patience`` seconds. The
    thread decides ``answered`` before it lets go: extra connections the code opens, waiting or not,
    cannot answer a request for it. The lock is held from a thread because code that blocks the event
    loop would freeze a coroutine holding it (in-process, the loop is the harness's own).
    """
    conninfo = admin.url.set(drivername="postgresql").render_as_string(hide_password=False)
    locked, waiting = threading.Event(), threading.Event()
    first_done, other_done = threading.Event(), threading.Event()
    seen = HeldUp(waited=False, answered=False)
    failure: list[BaseException] = []

    def hold() -> None:
        try:
            _hold(conninfo, lock, seen, locked, waiting, first_done, other_done, settle, patience)
        except BaseException as exc:  # reported by the caller, never lost in the thread
            failure.append(exc)
        finally:
            locked.set()
            waiting.set()

    thread = threading.Thread(target=hold, name="dbkata-held-up", daemon=True)
    thread.start()
    await asyncio.to_thread(locked.wait)
    first = asyncio.ensure_future(held_up())
    first.add_done_callback(lambda _: first_done.set())
    await asyncio.to_thread(waiting.wait)
    second = asyncio.ensure_future(other())
    second.add_done_callback(lambda _: other_done.set())
    await asyncio.to_thread(thread.join)
    if failure:
        raise failure[0]
    for name, task in (("held_up", first), ("other", second)):
        try:
            setattr(seen, name, await task)
        except Exception as exc:  # the check reports it with the rest
            seen.errors.append(exc)
    feedback.record_evidence("answered while held", {"waited": seen.waited, "answered": seen.answered})
    return seen


def _hold(
    conninfo: str,
    lock: str,
    seen: HeldUp,
    locked: threading.Event,
    waiting: threading.Event,
    first_done: threading.Event,
    other_done: threading.Event,
    settle: float,
    patience: float,
) -> None:
    # its own search_path: whatever session defaults the code under test set, pg_catalog's view is read
    with (
        psycopg.connect(conninfo, options="-c search_path=public") as holder,
        psycopg.connect(conninfo, options="-c search_path=public", autocommit=True) as watcher,
    ):
        holder.execute(lock.encode())
        holder_pid = holder.info.backend_pid
        locked.set()
        deadline = time.monotonic() + patience

        def sessions() -> list[tuple[Any, ...]]:
            watcher.execute("select pg_stat_clear_snapshot()")
            return watcher.execute(
                "select pid, state, query_start, wait_event_type = 'Lock' from pg_stat_activity "
                "where datname = current_database() and pid not in (pg_backend_pid(), %s) "
                "and backend_type = 'client backend' order by pid",
                (holder_pid,),
            ).fetchall()

        while time.monotonic() < deadline and not first_done.is_set():
            if any(row[3] for row in sessions()):
                seen.waited = True
                break
            time.sleep(0.002)
        seen.finished_first = not seen.waited and first_done.is_set()
        waiting.set()
        if seen.waited:
            last, quiet_since = sessions(), time.monotonic()
            while time.monotonic() < deadline and not other_done.is_set():
                now = sessions()
                if now != last:
                    last, quiet_since = now, time.monotonic()
                elif time.monotonic() - quiet_since > settle:
                    break  # nothing moves: the other call is stuck behind the held-up one
                time.sleep(0.002)
            seen.answered = other_done.is_set()
        holder.rollback()  # the lock goes: the held-up call goes on
