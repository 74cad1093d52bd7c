"""Benchmark the harness's wire relay and print figures (never asserts a time).

    python benchmarks/bench_relay.py [--runs N]

Prints: the cost per statement of going through the relay (1,000 warm statements, direct vs relay),
and the reference import of level2/ex08_slow_import (6,000 rows, 6 columns) direct vs relay, with
the statements the relay counted and what SQLAlchemy's events reported for the same work.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from dbkata.cluster import Cluster
from dbkata.endpoint import Endpoint
from dbkata.relay import Relay
from dbkata.schema import exercise_ddl
from dbkata.server import EmbeddedServer

EX08 = "exercises.level2.ex08_slow_import"


def _ms(samples: list[float]) -> str:
    median, low, high = (statistics.median(samples) * 1000, min(samples) * 1000, max(samples) * 1000)
    return f"{median:8.1f} ms  (min {low:.1f}, max {high:.1f}, n={len(samples)})"


async def _interleaved(variants: dict[str, Callable[[], Awaitable[Any]]], runs: int) -> dict[str, list[float]]:
    for fn in variants.values():
        await fn()  # warm pools and statement caches
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(runs):  # interleaved, so drift hits every variant alike
        for name, fn in variants.items():
            start = time.perf_counter()
            await fn()
            timings[name].append(time.perf_counter() - start)
    return timings


async def bench_per_statement(direct: AsyncEngine, relayed: AsyncEngine, runs: int) -> None:
    def scenario(engine: AsyncEngine) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            async with AsyncSession(engine) as session:
                for i in range(1000):
                    await session.execute(text("select cast(:i as integer)"), {"i": i})

        return run

    timings = await _interleaved({"direct": scenario(direct), "relay": scenario(relayed)}, runs)
    d, r = statistics.median(timings["direct"]), statistics.median(timings["relay"])
    for name in timings:
        print(f"1,000 statements, {name:<7}{_ms(timings[name])}")
    print(f"  relay overhead per statement: {(r - d) * 1000:.1f} µs ({(r / d - 1) * 100:+.1f}%)")


def _rows(n: int, categories: int) -> list[dict[str, Any]]:
    rng = random.Random(n)
    return [
        {
            "title": f"task #{i}",
            "description": "naïve café O'Brien's" if i % 3 else "",
            "category_id": rng.randint(1, categories),
            "priority": rng.randint(1, 5),
            "due_date": None,
            "estimate_minutes": None if i % 4 else rng.randint(0, 5000),
        }
        for i in range(n)
    ]


async def bench_import(direct: AsyncEngine, relayed: AsyncEngine, wire: Relay, runs: int) -> None:
    """The reference solution's statement: one ORM bulk INSERT of 6,000 rows (render_nulls)."""
    import importlib

    task = importlib.import_module(f"{EX08}.models").Task
    rows = _rows(6000, 300)

    def scenario(engine: AsyncEngine) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            async with AsyncSession(engine) as session, session.begin():
                await session.execute(insert(task).execution_options(render_nulls=True), rows)
                await session.execute(text("delete from task"))

        return run

    timings = await _interleaved({"direct": scenario(direct), "relay": scenario(relayed)}, runs)
    d, r = statistics.median(timings["direct"]), statistics.median(timings["relay"])
    for name in timings:
        print(f"ex08 import of 6,000 rows, {name:<7}{_ms(timings[name])}")
    print(f"  relay overhead: {(r - d) * 1000:.1f} ms ({(r / d - 1) * 100:+.1f}%)")
    mark = wire.mark()
    await scenario(relayed)()
    counted = [s for s in wire.statements(mark) if s.counted]
    inserts = [s for s in counted if s.sql.lstrip().upper().startswith("INSERT")]
    trips = len({(s.conn, s.batch) for s in counted})
    what = f"{len(counted)} statements ({len(inserts)} INSERT, 1 DELETE), {trips} round trips"
    print(f"  on the wire for one import: {what}")


async def run_all(cluster: Cluster, runs: int) -> None:
    template = cluster.template(exercise_ddl(EX08))
    database = cluster.clone(template)
    admin = create_async_engine(database.admin.sa_url())
    async with admin.begin() as conn:
        await conn.execute(text("insert into category (id, name) select g, 'c' || g from generate_series(1, 300) g"))
    await admin.dispose()
    folder = Path(tempfile.mkdtemp(prefix="dbkrl-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None))
    wire = Relay(database.admin, folder).start()
    direct = create_async_engine(database.app.sa_url())
    relayed = create_async_engine(wire.url(database.app))
    try:
        await bench_per_statement(direct, relayed, runs)
        await bench_import(direct, relayed, wire, runs)
    finally:
        await direct.dispose()
        await relayed.dispose()
        wire.close()
        shutil.rmtree(folder, ignore_errors=True)
        cluster.drop(database.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"load average at start: {os.getloadavg()}")
    server = EmbeddedServer()
    info = server.acquire()
    try:
        cluster = Cluster(Endpoint(info.socket_dir, info.port, info.superuser, info.password, "postgres"))
        cluster.ensure_app_role()
        asyncio.run(run_all(cluster, args.runs))
        cluster.close()
    finally:
        server.release()


if __name__ == "__main__":
    main()
