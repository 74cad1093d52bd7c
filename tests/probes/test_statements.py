"""The statements probe counts what exercise code runs, names its line, and cannot be dodged."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from tests.probes.conftest import seed_authors


async def test_n_plus_one_grows_with_data_and_is_attributed(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    """The lazy route's count grows with N; the failure names the counts, the relationship and the line."""
    with pytest.raises(pytest.fail.Exception) as failure:
        await dbkata.assert_statements_constant(
            lambda n: seed_authors(admin, n),
            lambda: client.get("/authors/lazy"),
            sizes=(3, 12),
            what="GET /authors/lazy",
            noun="authors",
        )
    text = str(failure.value)
    assert "3 authors → 4 statement(s); 12 authors → 13 statement(s)." in text
    assert "Lazy loads: Author.books ×12" in text
    assert "apps.py:" in text
    assert "in authors_lazy" in text


async def test_eager_route_is_constant(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    """selectinload keeps the count constant: the probe accepts the fix."""
    counts = await dbkata.assert_statements_constant(
        lambda n: seed_authors(admin, n), lambda: client.get("/authors/eager"), sizes=(3, 40), what="GET"
    )
    assert counts == [(3, 2), (40, 2)]


async def test_budget_lists_statements_grouped_by_shape(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await seed_authors(admin, 5)
    async with dbkata.statements() as log:
        response = await client.get("/authors/lazy")
    assert response.status_code == 200
    assert log.count == 6
    assert len(log.of_kind("SELECT")) == 6
    with pytest.raises(pytest.fail.Exception) as failure:
        log.assert_at_most(2, what="GET /authors/lazy")
    text = str(failure.value)
    assert "Expected at most 2 SQL statement(s); 6 were executed:" in text
    assert "   5 × SELECT book.id" in text  # the repeated shape is grouped, most frequent first


async def test_harness_statements_are_not_counted(admin: AsyncEngine) -> None:
    async with dbkata.statements() as log:
        await seed_authors(admin, 3)
    assert log.count == 0


async def test_bypassing_sqlalchemy_is_detected_by_the_server(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    """A query sent on a raw driver connection is invisible in-process but not to pg_stat_statements."""
    await seed_authors(admin, 2)
    async with dbkata.statements(admin) as log:
        response = await client.get("/authors/raw-count")
    assert response.status_code == 200
    assert log.count == 1
    assert log.server_count == 2
    with pytest.raises(pytest.fail.Exception, match="bypasses SQLAlchemy"):
        log.assert_at_most(5, what="GET /authors/raw-count")


async def test_server_count_agrees_when_nothing_is_hidden(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await seed_authors(admin, 4)
    async with dbkata.statements(admin) as log:
        await client.get("/authors/eager")
    assert log.server_count == log.count == 2
    log.assert_at_most(2, what="GET /authors/eager")
