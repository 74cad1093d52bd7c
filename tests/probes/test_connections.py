"""The leak probe finds connections left open on error paths, deterministically, naming the line."""

from __future__ import annotations

import gc

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
    assert any("connection still checked out, taken at apps.py:" in f and "(×3)" in f for f in probe.findings)
    assert any("idle in transaction" in f for f in probe.findings)
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
