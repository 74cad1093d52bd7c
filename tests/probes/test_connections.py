"""The leak probe finds connections left open on error paths, deterministically, naming the line."""

from __future__ import annotations

import asyncio
import gc
from types import ModuleType

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from tests.probes.conftest import seed_authors


@pytest.mark.parametrize("repeat", range(5))
async def test_leaky_dependency_is_caught_every_time(
    client: httpx.AsyncClient, admin: AsyncEngine, repeat: int
) -> None:
    await seed_authors(admin, 1)
    async with dbkata.connections(admin) as probe:
        for _ in range(3):
            assert (await client.get("/books/999/leaky")).status_code == 404
    assert probe.findings == ["3 server connection(s) left 'idle in transaction'"]  # decided on the wire
    assert any("still checked out, taken at apps.py:" in e and "(×3)" in e for e in probe.explanations)
    with pytest.raises(pytest.fail.Exception, match="a database connection is left open"):
        probe.assert_no_leaks(what="3 requests to GET /books/999/leaky that returned 404")


@pytest.mark.parametrize("repeat", range(5))
async def test_closing_dependency_passes_every_time(client: httpx.AsyncClient, admin: AsyncEngine, repeat: int) -> None:
    await seed_authors(admin, 1)
    async with dbkata.connections(admin) as probe:
        for path in ("/books/999", "/books/1"):
            await client.get(path)
    assert probe.checkouts == 2
    assert probe.findings == []
    probe.assert_no_leaks(what="two requests")


async def test_happy_path_of_leaky_dependency_is_clean(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    """The bug is only on the error path: the success path closes the session."""
    await seed_authors(admin, 1)
    async with dbkata.connections(admin) as probe:
        assert (await client.get("/books/1/leaky")).status_code == 200
    assert probe.findings == []


async def test_gc_is_restored_after_the_window(client: httpx.AsyncClient) -> None:
    assert gc.isenabled()
    async with dbkata.connections() as probe:
        assert not gc.isenabled()
        await client.get("/books/999")
    assert gc.isenabled()
    assert probe.findings == []


@pytest.mark.parametrize("repeat", range(3))
async def test_a_session_left_in_a_transaction_is_caught(
    client: httpx.AsyncClient, admin: AsyncEngine, repeat: int
) -> None:
    await seed_authors(admin, 1)
    async with dbkata.connections() as probe:
        assert (await client.get("/books/1/left-open")).status_code == 200
    assert probe.findings == ["1 server connection(s) left 'idle in transaction'"]
    assert any("apps.py:" in e and "book_left_open" in e for e in probe.explanations)


@pytest.mark.parametrize("repeat", range(3))
async def test_a_new_engine_per_request_never_disposed_is_caught(
    client: httpx.AsyncClient, admin: AsyncEngine, repeat: int
) -> None:
    """Each request leaves an idle connection in a pool nobody disposes: nothing is 'in transaction'."""
    await seed_authors(admin, 1)
    async with dbkata.connections() as probe:
        for _ in range(3):
            assert (await client.get("/books/1/own-engine")).status_code == 200
    assert probe.findings == [
        "3 server connection(s) opened meanwhile are still open, though at most 1 were in use at once: "
        "connections are opened and never closed"
    ]


async def test_concurrent_requests_on_one_pool_are_not_a_leak(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    """Five requests at once open five pooled connections; they stay open, idle, as a pool's do."""
    await seed_authors(admin, 1)
    async with dbkata.connections() as probe:
        await asyncio.gather(*(client.get("/authors/eager") for _ in range(5)))
        for _ in range(4):
            await client.get("/books/1")
    assert probe.opened >= 1
    assert probe.findings == []


async def test_a_raw_connection_left_in_a_transaction_is_caught(apps: ModuleType, admin: AsyncEngine) -> None:
    """The relay sees connections SQLAlchemy never knew about."""
    raw = await asyncpg.connect(apps._driver_url())
    try:
        async with dbkata.connections() as probe:
            await raw.execute("begin; select 1")
        assert probe.findings == ["1 server connection(s) left 'idle in transaction'"]
        assert probe.explanations == []
    finally:
        await raw.close()
