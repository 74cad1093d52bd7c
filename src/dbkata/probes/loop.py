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
from typing import Any

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
