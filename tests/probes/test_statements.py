"""The statements probe counts what exercise code runs, names its line, and cannot be dodged."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text as sqla_text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata.probes.statements import Statement
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


async def test_harness_statements_are_not_counted(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    async with dbkata.statements() as log:
        await seed_authors(admin, 3)
    assert log.count == 0


async def test_a_raw_asyncpg_n_plus_one_is_counted(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    """Statements sent behind SQLAlchemy's back reach PostgreSQL through the relay all the same."""
    for n in (3, 7):
        await seed_authors(admin, n)
        async with dbkata.statements() as log:
            assert (await client.get("/authors/raw-n-plus-one")).status_code == 200
        assert log.count == 1 + n
        assert log.unseen == 1 + n
        assert log.in_process == []
    with pytest.raises(pytest.fail.Exception) as failure:
        await dbkata.assert_statements_constant(
            lambda n: seed_authors(admin, n),
            lambda: client.get("/authors/raw-n-plus-one"),
            sizes=(2, 5),
            what="GET /authors/raw-n-plus-one",
            noun="authors",
        )
    assert "2 authors → 3 statement(s); 5 authors → 6 statement(s)." in str(failure.value)
    assert "from a connection SQLAlchemy's events did not see" in str(failure.value)


@pytest.mark.parametrize(
    ("sql", "lazy"),
    [
        ("SELECT book.id FROM book WHERE $1::INTEGER = book.author_id", "book by author_id"),
        ("SELECT o.id FROM order_item AS o WHERE $1 = o.order_id", "o by order_id"),
        (
            'SELECT x FROM "Order Item" WHERE "Order Item".x = 1 AND $2::UUID = "Order Item"."order ""id"""',
            'Order Item by order "id"',
        ),
        ('SELECT x FROM s.t WHERE s.t.y = 1 AND $2::UUID = s."T".c', "T by c"),
        ("SELECT book.id FROM book WHERE book.author_id = $1::INTEGER", None),  # written by hand, or session.get
        ("SELECT book.id FROM book WHERE book.author_id IN ($1::INTEGER, $2::INTEGER)", None),  # selectinload
        ("SELECT a.id, b.id FROM author AS a JOIN book AS b ON a.id = b.author_id", None),  # joinedload
        ("UPDATE book SET title = $2 WHERE $1::INTEGER = book.id", None),  # not a load
    ],
)
def test_the_lazy_loaders_query_is_told_from_its_sql(sql: str, lazy: str | None) -> None:
    assert Statement(sql, False, 1, "here").lazy_load == lazy


async def test_a_lazy_load_is_decided_on_the_wire_even_where_no_event_sees_it(
    client: httpx.AsyncClient, admin: AsyncEngine
) -> None:
    await seed_authors(admin, 3)
    async with dbkata.statements() as log:
        assert (await client.get("/authors/raw-lazy")).status_code == 200
    assert log.in_process == []
    assert log.lazy_loads == {"book by author_id (lazy-load SQL)": 3}
    async with dbkata.statements() as log:
        assert (await client.get("/authors/raw-n-plus-one")).status_code == 200
    assert log.lazy_loads == {}  # a query per author, but written by hand: the statement count is its problem
    async with dbkata.statements() as log:
        assert (await client.get("/authors/lazy")).status_code == 200
    assert log.lazy_loads == {"Author.books": 3}  # the events name the attribute when they saw it


async def test_a_psycopg_statement_is_counted_and_said_to_bypass_sqlalchemy(
    client: httpx.AsyncClient, admin: AsyncEngine
) -> None:
    await seed_authors(admin, 2)
    async with dbkata.statements() as log:
        assert (await client.get("/authors/raw-count")).status_code == 200
    assert [s.sql for s in log.statements] == ["select count(*) from author", "select count(*) from book"]
    assert log.unseen == 1
    assert "apps.py:" in log.statements[0].origin
    with pytest.raises(pytest.fail.Exception) as failure:
        log.assert_at_most(1, what="GET /authors/raw-count")
    assert "1 statement(s) did not go through SQLAlchemy's events" in str(failure.value)


async def test_transaction_control_is_not_counted_and_comments_hide_nothing(
    client: httpx.AsyncClient, admin: AsyncEngine
) -> None:
    """BEGIN/COMMIT are not statements; a comment full of noise words does not make a query noise."""
    await seed_authors(admin, 2)
    async with dbkata.statements() as log:
        assert (await client.get("/authors/disguised")).json() == {"authors": 2, "books": 4}
    assert log.count == 2
    assert all(s.verb != "BEGIN" and s.verb != "COMMIT" for s in log.statements)
    assert log.unseen == 0


async def test_executemany_is_one_statement_per_parameter_set(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    """asyncpg pipelines an executemany as one Execute per row: the wire counts each one."""
    await seed_authors(admin, 1, books_each=0)
    async with dbkata.statements() as log:
        response = await client.post("/books/executemany", json=[f"t{i}" for i in range(7)])
    assert response.status_code == 200
    assert log.count == 7
    assert len(log.in_process) == 1
    assert log.in_process[0].rows == 7
    assert log.unseen == 0  # all 7 are explained by the one executemany
    assert log.round_trips == 1  # asyncpg pipelines the 7 under one Sync


async def test_a_per_row_loop_takes_one_round_trip_per_row(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await seed_authors(admin, 1, books_each=0)
    async with dbkata.statements() as log:
        await client.post("/books/per-row", json=[f"t{i}" for i in range(7)])
    assert log.count == 7
    assert log.round_trips == 7


async def test_insertmanyvalues_is_one_statement_per_batch(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    """ORM add_all with RETURNING uses insertmanyvalues: one INSERT ... VALUES (...), (...) per batch."""
    await seed_authors(admin, 1, books_each=0)
    async with dbkata.statements() as log:
        response = await client.post("/books/atomic", json=[f"t{i}" for i in range(7)])
    assert response.status_code == 200
    assert [s.verb for s in log.statements] == ["INSERT"]


@pytest.mark.parametrize("repeat", range(3))
async def test_a_statement_limit_stops_a_per_row_loop_at_the_same_count(
    client: httpx.AsyncClient, admin: AsyncEngine, repeat: int
) -> None:
    await seed_authors(admin, 1, books_each=0)
    with pytest.raises(pytest.fail.Exception) as failure:
        async with dbkata.statements(stop_after=10, what="POST /books/per-row with 500 titles"):
            response = await client.post("/books/per-row", json=[f"t{i}" for i in range(500)])
    assert response.status_code == 500  # the relay closed the connection: the request failed
    text = str(failure.value)
    assert "Expected at most 10 SQL statement(s); the code was stopped at statement 11:" in text
    assert "  11 × INSERT INTO book" in text
    async with admin.connect() as conn:
        assert (await conn.execute(sqla_text("select count(*) from book"))).scalar_one() == 0  # rolled back


async def test_the_limit_is_lifted_after_the_window(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await seed_authors(admin, 1, books_each=0)
    async with dbkata.statements(stop_after=50) as log:
        await client.post("/books/per-row", json=[f"t{i}" for i in range(20)])
    assert log.stopped is None
    assert log.count == 20
    async with dbkata.statements() as log:
        assert (await client.post("/books/per-row", json=[f"u{i}" for i in range(60)])).status_code == 200
    assert log.count == 60
