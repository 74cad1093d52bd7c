"""The relay: protocol facts it relies on, and what it does with real clients (asyncpg, psycopg)."""

from __future__ import annotations

import asyncio
import socket
import struct

import asyncpg
import psycopg
import pytest

from dbkata.cluster import Database
from dbkata.relay import Relay
from dbkata.relay import protocol as pg


def test_simple_queries_split_outside_quotes_dollar_quotes_and_comments() -> None:
    assert pg.split_simple_query("begin; select 1;commit;") == ["begin", "select 1", "commit"]
    assert pg.split_simple_query("select ';' as a, \"x;y\" from t; select 2") == [
        "select ';' as a, \"x;y\" from t",
        "select 2",
    ]
    assert pg.split_simple_query("select $$a;b$$, $tag$ ; $$ ; $tag$; select 3") == [
        "select $$a;b$$, $tag$ ; $$ ; $tag$",
        "select 3",
    ]
    assert pg.split_simple_query("select 1 -- a; b\n; /* c; /* nested; */ d; */ select 2") == [
        "select 1 -- a; b",
        "/* c; /* nested; */ d; */ select 2",
    ]
    assert pg.split_simple_query("select E'it\\'s; fine'; select 'a\\'; select 2") == [
        "select E'it\\'s; fine'",
        "select 'a\\'",
        "select 2",
    ]
    assert pg.split_simple_query(" ; ;") == []


@pytest.mark.parametrize(
    "sql",
    [
        "BEGIN",
        "begin isolation level serializable",
        "COMMIT",
        "ROLLBACK TO SAVEPOINT sa_1",
        "SAVEPOINT sa_1",
        "RELEASE SAVEPOINT sa_1",
        "start transaction",
        "end",
        "select pg_catalog.version()",
        "",
    ],
)
def test_transaction_control_and_driver_texts_are_not_counted(sql: str) -> None:
    assert not pg.is_counted(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "/* BEGIN */ select * from author",
        "-- commit\nselect 1",
        "select pg_catalog.version() ",  # not the exact text the dialect sends
        "select pg_catalog.version() /* x */",
        "SET search_path = public",
        "with begin as (select 1) select * from begin",
    ],
)
def test_anything_else_is_counted(sql: str) -> None:
    assert pg.is_counted(sql)


def test_takes_row_locks() -> None:
    assert pg.takes_row_locks("SELECT account.id FROM account WHERE account.id = $1 FOR NO KEY UPDATE", "account")
    assert pg.takes_row_locks("/* x */ update account set balance = 0", "account")
    assert pg.takes_row_locks("DELETE FROM account WHERE id = $1", "account")
    assert not pg.takes_row_locks("SELECT account.id FROM account", "account")
    assert not pg.takes_row_locks("UPDATE accounts_archive SET x = 1", "account")


async def test_ssl_request_is_answered_n_and_the_socket_path_is_short(dbkata_relay: Relay) -> None:
    assert len(str(dbkata_relay.socket_path).encode()) < 108
    reader, writer = await asyncio.open_unix_connection(str(dbkata_relay.socket_path))
    writer.write(struct.pack("!ii", 8, pg.SSL_REQUEST))
    assert await asyncio.wait_for(reader.readexactly(1), 10) == b"N"
    writer.close()


async def test_password_authentication_passes_through(db: Database, dbkata_relay: Relay) -> None:
    assert db.app.password  # the app role logs in with a password (SCRAM on this server)
    url = dbkata_relay.url(db.app).replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("select current_user") == db.app.user
    finally:
        await conn.close()
    wrong = url.replace(db.app.password, "wrong")
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(wrong)


def test_libpq_clients_work_through_it(db: Database, dbkata_relay: Relay) -> None:
    mark = dbkata_relay.mark()
    url = dbkata_relay.url(db.app).replace("postgresql+asyncpg", "postgresql")
    with psycopg.connect(url) as conn:
        assert conn.execute("select 40 + 2").fetchone() == (42,)
    counted = [s.sql for s in dbkata_relay.statements(mark) if s.counted]
    assert counted == ["select 40 + 2"]


def test_with_standard_conforming_strings_off_a_backslash_escapes_in_every_string() -> None:
    query = "select 'x\\'; select 2; select 3'"  # off: one string, x';select 2;select 3
    assert pg.split_simple_query(query, standard_strings=False) == [query]
    assert pg.split_simple_query(query) == ["select 'x\\'", "select 2", "select 3'"]


async def test_statements_hidden_in_strings_by_turning_standard_strings_off_are_counted(
    db: Database, dbkata_relay: Relay
) -> None:
    # Turned off, every statement the server runs must still be one the relay counts.
    conn = await asyncpg.connect(dbkata_relay.url(db.app).replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("set standard_conforming_strings = off")
        mark = dbkata_relay.mark()
        await conn.execute("select 'a\\'' as x; select 1; select 2; select 3")
        counted = [s.sql for s in dbkata_relay.statements(mark) if s.counted]
        assert counted == ["select 'a\\'' as x", "select 1", "select 2", "select 3"]
    finally:
        await conn.close()


async def test_a_cancel_request_reaches_the_server(db: Database, dbkata_relay: Relay) -> None:
    conn = await asyncpg.connect(dbkata_relay.url(db.app).replace("postgresql+asyncpg", "postgresql"))
    try:
        mark = dbkata_relay.mark()
        with pytest.raises(asyncio.TimeoutError):
            await conn.execute("select pg_sleep(60)", timeout=0.5)  # asyncpg sends a CancelRequest
        assert await conn.fetchval("select 1") == 1  # the connection was given back after the cancel
        assert [e.sqlstate for e in dbkata_relay.errors(mark)] == ["57014"]  # query_canceled, not 60 s later
        assert [s.sqlstate for s in dbkata_relay.statements(mark) if s.counted] == ["57014", None]
    finally:
        await conn.close()


async def test_close_drops_every_connection(db: Database, dbkata_relay: Relay) -> None:
    conn = await asyncpg.connect(dbkata_relay.url(db.app).replace("postgresql+asyncpg", "postgresql"))
    assert [c.open for c in dbkata_relay.connections()] == [True]
    dbkata_relay.close()
    with pytest.raises((asyncpg.ConnectionDoesNotExistError, ConnectionError, OSError)):
        await conn.fetchval("select 1")
    assert [c.open for c in dbkata_relay.connections()] == [False]
    assert not dbkata_relay.socket_path.exists()
    conn.terminate()


def test_a_long_socket_path_is_refused(db: Database, tmp_path_factory: pytest.TempPathFactory) -> None:
    deep = tmp_path_factory.mktemp("x" * 60) / ("y" * 60)
    deep.mkdir()
    with pytest.raises(ValueError, match="too long"):
        Relay(db.admin, deep).start()
    _ = socket  # the limit is the kernel's sockaddr_un, checked before binding
