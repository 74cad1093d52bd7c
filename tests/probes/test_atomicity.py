"""Snapshots from an independent connection and injected failures judge all-or-nothing."""

from __future__ import annotations

import os

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

import dbkata
from tests.probes.conftest import seed_authors


async def test_commit_per_row_leaves_rows_behind(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await seed_authors(admin, 1)
    before = await dbkata.snapshot(admin, "book")
    async with dbkata.fail_nth(admin, table="book", nth=3) as injection:
        response = await client.post("/books/commit-each", json=["n1", "n2", "n3", "n4"])
    assert response.status_code == 500
    assert injection.fired
    assert injection.attempts == 3
    after = await dbkata.snapshot(admin, "book")
    added, removed = after.diff(before)["book"]
    assert len(added) == 2
    assert removed == []
    with pytest.raises(pytest.fail.Exception) as failure:
        dbkata.assert_unchanged(before, after, what="POST /books/commit-each failed on its 3rd row")
    assert "table book: 2 row(s) added: (3,1,n1), (4,1,n2)" in str(failure.value)


async def test_single_transaction_leaves_nothing(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await seed_authors(admin, 1)
    before = await dbkata.snapshot(admin)
    async with dbkata.fail_nth(admin, table="book", nth=3) as injection:
        response = await client.post("/books/atomic", json=["n1", "n2", "n3", "n4"])
    assert response.status_code == 500
    assert injection.fired  # the request failed because of the injected row, not for another reason
    dbkata.assert_unchanged(before, await dbkata.snapshot(admin), what="POST /books/atomic failed")


async def test_injection_is_removed_after_the_block(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await seed_authors(admin, 1)
    async with dbkata.fail_nth(admin, table="book", nth=1) as injection:
        assert (await client.post("/books/atomic", json=["x"])).status_code == 500
    assert injection.fired
    assert (await client.post("/books/atomic", json=["x"])).status_code == 200
    async with admin.connect() as conn:
        leftovers = (await conn.execute(text("select count(*) from pg_trigger where tgname like 'dbkata%'"))).scalar()
    assert leftovers == 0


async def test_an_injection_the_code_dropped_fails_the_test(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    """Code that drops the injected failure's trigger (it owns the table) never meets the failure: it fails."""
    await seed_authors(admin, 1)

    async def drop_it_then_post() -> int:
        app = create_async_engine(os.environ["DATABASE_URL"], poolclass=NullPool)
        async with app.begin() as conn:
            await conn.execute(text("drop trigger dbkata_fail_book_insert on book"))
        await app.dispose()
        return (await client.post("/books/atomic", json=["x"])).status_code

    statuses = []
    with pytest.raises(pytest.fail.Exception, match="to make the 1st INSERT fail"):
        async with dbkata.fail_nth(admin, table="book", nth=1):
            statuses.append(await drop_it_then_post())
    assert statuses == [200]  # the failure never happened


async def test_injection_does_not_hang_behind_a_leaked_session(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    """A session left idle in a transaction holds locks on the table; the trigger DDL must not wait for GC."""
    import gc
    import time

    await seed_authors(admin, 1)
    gc.disable()  # keep the leaked session (and its locks) alive, as a GC-disabled probe window does
    try:
        assert (await client.get("/books/999/leaky")).status_code == 404  # leaves a transaction open on book
        started = time.monotonic()
        async with dbkata.fail_nth(admin, table="book", nth=1) as injection:
            assert (await client.post("/books/atomic", json=["x"])).status_code == 500
        assert injection.fired
        assert time.monotonic() - started < 20  # bounded by the DDL lock timeout, not by garbage collection
    finally:
        gc.enable()
