"""Benchmark the database foundation and print figures (never asserts a time).

    python benchmarks/bench_foundation.py [--runs N]

Prints: cold and warm start of the embedded server, per-test cost of each isolation mode, probe
overhead on a 1,000-statement scenario, and the wall time of a 40-test suite against its floor
(imports + server start + isolation).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

import dbkata
from dbkata import relay
from dbkata.assemble import PYTEST_CONFIG
from dbkata.cluster import Cluster
from dbkata.endpoint import Endpoint
from dbkata.relay import Relay
from dbkata.server import EmbeddedServer


def _ms(samples: list[float]) -> str:
    median, low, high = (statistics.median(samples) * 1000, min(samples) * 1000, max(samples) * 1000)
    return f"{median:8.1f} ms  (min {low:.1f}, max {high:.1f}, n={len(samples)})"


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_server(runs: int) -> tuple[float, float]:
    """Cold (initdb + start) and warm (start on existing data) times, plus stop."""
    cold, warm, stop = [], [], []
    for _ in range(runs):
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        home = Path(tempfile.mkdtemp(prefix="dbkata-bench-", dir=shm))
        server = EmbeddedServer(home)
        cold.append(_timed(server.acquire))
        stop.append(_timed(server.release))
        warm.append(_timed(server.acquire))
        server.release()
        server.reset()
    print(f"server cold start (initdb + start): {_ms(cold)}")
    print(f"server warm start:                  {_ms(warm)}")
    print(f"server stop:                        {_ms(stop)}")
    return statistics.median(cold), statistics.median(warm)


async def bench_isolation(cluster: Cluster, template: str, runs: int) -> float:
    """Per-test setup + teardown of a fresh clone, and of a savepoint-isolated session."""
    clone, first_connect, savepoint = [], [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        database = cluster.clone(template)
        t1 = time.perf_counter()
        engine = create_async_engine(database.app.sa_url(), poolclass=NullPool)
        async with engine.connect() as conn:
            await conn.execute(text("select 1"))
        t2 = time.perf_counter()
        await engine.dispose()
        t3 = time.perf_counter()
        cluster.drop(database.name)
        clone.append((t1 - t0) + (time.perf_counter() - t3))
        first_connect.append(t2 - t1)
    shared = cluster.clone(template)
    engine = create_async_engine(shared.app.sa_url(), pool_size=2)
    async with engine.connect() as warmup:
        await warmup.execute(text("select 1"))
    for _ in range(runs):
        start = time.perf_counter()
        async with engine.connect() as conn:
            outer = await conn.begin()
            session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint")
            await session.close()
            await outer.rollback()
        savepoint.append(time.perf_counter() - start)
    await engine.dispose()
    cluster.drop(shared.name)
    print(f"isolation `db` (clone + drop):      {_ms(clone)}")
    print(f"  + first connection to the clone:  {_ms(first_connect)}")
    print(f"isolation `tx_session` (savepoint): {_ms(savepoint)}")
    return statistics.median(clone) + statistics.median(first_connect)


async def bench_probe_overhead(cluster: Cluster, template: str, rounds: int) -> None:
    """1,000 statements through an ORM session and the relay, bare vs inside the statements and connections probes."""
    database = cluster.clone(template)
    folder = Path(tempfile.mkdtemp(prefix="dbkrl-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None))
    wire = Relay(database.admin, folder).start()
    relay.set_current(wire)
    engine = create_async_engine(wire.url(database.app))

    async def scenario() -> None:
        async with AsyncSession(engine) as session:
            for i in range(1000):
                await session.execute(text("select cast(:i as integer)"), {"i": i})

    async def with_statements() -> None:
        with dbkata.statements() as log:
            await scenario()
        assert log.count == 1000

    async def with_connections() -> None:
        async with dbkata.connections():
            await scenario()

    await scenario()  # warm the pool and the statement cache
    timings: dict[str, list[float]] = {"bare": [], "statements": [], "connections": []}
    for _ in range(rounds):  # interleaved, so drift hits every variant alike
        for name, fn in (("bare", scenario), ("statements", with_statements), ("connections", with_connections)):
            start = time.perf_counter()
            await fn()
            timings[name].append(time.perf_counter() - start)
    await engine.dispose()
    relay.set_current(None)
    wire.close()
    shutil.rmtree(folder, ignore_errors=True)
    cluster.drop(database.name)
    bare = statistics.median(timings["bare"])
    for name in ("bare", "statements", "connections"):
        overhead = (statistics.median(timings[name]) / bare - 1) * 100
        suffix = "" if name == "bare" else f"   overhead {overhead:+.1f}% (target ≤ 10%)"
        print(f"1,000 statements, {name:<12}{_ms(timings[name])}{suffix}")


_SUITE = """
import pytest
from sqlalchemy import text

@pytest.mark.parametrize("i", range(20))
async def test_clone(exercise, admin, i):
    app = exercise.module("app")
    async with app.Session() as s, s.begin():
        await s.execute(text("insert into item (name) values ('x')"))
    async with admin.connect() as c:
        assert (await c.execute(text("select count(*) from item"))).scalar() == 1

@pytest.mark.parametrize("i", range(20))
async def test_savepoint(tx_session, i):
    await tx_session.execute(text("insert into item (name) values ('x')"))
    assert (await tx_session.execute(text("select count(*) from item"))).scalar() == 1
"""


def bench_suite(runs: int, warm_start: float, clone_cost: float) -> None:
    """Wall time of a 40-test suite (20 clone + 20 savepoint tests) against its floor."""
    root = Path(tempfile.mkdtemp(prefix="dbkata-suite-"))
    pkg = root / "exercises" / "level9" / "ex01_bench"
    pkg.mkdir(parents=True)
    for d in (root / "exercises", pkg.parent, pkg):
        (d / "__init__.py").touch()
    (root / "pyproject.toml").write_text(PYTEST_CONFIG)
    (pkg / "models.py").write_text(
        textwrap.dedent("""
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
        class Base(DeclarativeBase): pass
        class Item(Base):
            __tablename__ = "item"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str]
    """)
    )
    (pkg / "app.py").write_text(
        textwrap.dedent("""
        import os
        from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
        Session = async_sessionmaker(create_async_engine(os.environ["DATABASE_URL"]))
    """)
    )
    (pkg / "test_bench.py").write_text(_SUITE)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root)]
    imports = [
        sys.executable,
        "-c",
        "import pytest, pytest_asyncio, sqlalchemy.ext.asyncio, asyncpg, psycopg, fastapi, httpx, dbkata.plugin",
    ]
    suite, floor_imports = [], []
    subprocess.run(cmd, cwd=root, check=True, capture_output=True)  # build the template once
    for _ in range(runs):
        floor_imports.append(_timed(lambda: subprocess.run(imports, check=True)))
        suite.append(_timed(lambda: subprocess.run(cmd, cwd=root, check=True, capture_output=True)))
    shutil.rmtree(root)
    floor = statistics.median(floor_imports) + warm_start + 20 * clone_cost
    print(f"import floor (stack + plugin):      {_ms(floor_imports)}")
    print(f"40-test suite (20 clone, 20 savepoint), wall: {_ms(suite)}")
    print(
        f"  floor = imports + warm start + 20 clones = {floor * 1000:.0f} ms; "
        f"ratio {statistics.median(suite) / floor:.2f} (target ≤ 1.5)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    _, warm = bench_server(max(3, args.runs // 2))
    server = EmbeddedServer()
    info = server.acquire()
    try:
        cluster = Cluster(Endpoint(info.socket_dir, info.port, info.superuser, info.password, "postgres"))
        cluster.ensure_app_role()
        template = cluster.template(["create table item (id serial primary key, name text)"])
        clone_cost = asyncio.run(bench_isolation(cluster, template, args.runs * 4))
        asyncio.run(bench_probe_overhead(cluster, template, args.runs))
        cluster.close()
        bench_suite(args.runs, warm, clone_cost)
    finally:
        server.release()


if __name__ == "__main__":
    main()
