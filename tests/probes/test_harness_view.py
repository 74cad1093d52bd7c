"""The harness's view of the server cannot be bent by session defaults the code under test sets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from dbkata import schema_guard
from dbkata.cluster import Cluster, Database
from tests.conftest import demo_exercise

SYSTEM_VIEW = "select 'pg_stat_activity'::regclass = 'pg_catalog.pg_stat_activity'::regclass"


async def test_a_shadow_pg_stat_activity_never_reaches_the_harness(db: Database, admin: AsyncEngine) -> None:
    # The code, as the app role: a view of its own named like the system one, put first for every
    # later session of its role and of its database (where it may: the owner can set the database's).
    app = create_async_engine(db.app.sa_url(), poolclass=NullPool)
    try:
        async with app.connect() as conn:
            await conn.exec_driver_sql("create schema shadow")
            await conn.exec_driver_sql("create view shadow.pg_stat_activity as select 4 as waiting")
            await conn.exec_driver_sql("alter role current_user set search_path = shadow, pg_catalog")
            owns = await conn.scalar(
                text(
                    "select pg_catalog.pg_get_userbyid(datdba) = current_user from pg_catalog.pg_database "
                    "where datname = current_database()"
                )
            )
            if owns:
                await conn.exec_driver_sql(f'alter database "{db.name}" set search_path = shadow, pg_catalog')
            await conn.commit()
        async with app.connect() as conn:  # the attack works on a plain new session of the role
            assert await conn.scalar(text(SYSTEM_VIEW)) is False
        async with admin.connect() as conn:
            assert await conn.scalar(text(SYSTEM_VIEW)) is True
    finally:
        async with app.connect() as conn:
            await conn.exec_driver_sql("alter role current_user reset search_path")
            await conn.commit()
        await app.dispose()


# -- the schema guard: the tables the harness reads stay the ones it seeded ----------------------------


@pytest.fixture
def scratch(dbkata_cluster: Cluster, dbkata_template: str) -> Iterator[Database]:
    """A database like ``db``, but the plugin's schema guard does not watch it (these tests tamper on purpose)."""
    database = dbkata_cluster.clone(dbkata_template)
    yield database
    dbkata_cluster.drop(database.name)


async def _as_the_app(db: Database, *statements: str) -> None:
    app = create_async_engine(db.app.sa_url(), poolclass=NullPool)
    try:
        async with app.begin() as conn:
            for statement in statements:
                await conn.exec_driver_sql(statement)
    finally:
        await app.dispose()


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        (
            [
                "alter table account rename to account_real",
                "create view account as select id, balance + 1000 as balance from account_real",
            ],
            [
                "table public.account was renamed to public.account_real",
                "table public.account was replaced: the name now belongs to another view",
            ],
        ),
        (
            [
                "create schema hidden",
                "alter table account set schema hidden",
                "create table account (like hidden.account)",
            ],
            [
                "table public.account was renamed to hidden.account",
                "table public.account was replaced: the name now belongs to another table",
            ],
        ),
        (
            ["alter table account rename column balance to real_balance", "alter table account add column balance int"],
            ["the columns of public.account were changed: balance integer became real_balance integer"],
        ),
        (
            [
                "create function keep() returns trigger language plpgsql as $$ begin return null; end $$",
                "create trigger dbkata_gate_lookalike before update on account for each row execute function keep()",
            ],
            ["public.account was given triggers: dbkata_gate_lookalike"],
        ),
        (
            ["create rule keep as on update to account do instead nothing"],
            ["public.account was given rewrite rules: keep"],
        ),
    ],
    ids=["renamed-and-a-lying-view", "moved-and-replaced", "column-swapped", "trigger", "rule"],
)
async def test_the_schema_guard_sees_tables_swapped_or_rewritten(
    scratch: Database, statements: list[str], expected: list[str]
) -> None:
    before = schema_guard.fingerprint(scratch)
    await _as_the_app(scratch, *statements)
    assert schema_guard.changes(before, schema_guard.fingerprint(scratch)) == expected


async def test_the_schema_guard_leaves_the_codes_own_tables_and_plain_drops_alone(scratch: Database) -> None:
    before = schema_guard.fingerprint(scratch)
    await _as_the_app(
        scratch,
        "create table audit (id serial primary key, note text)",
        "create temporary table scratch (x int)",
        "alter table account add column note text",
        "drop table account",
    )
    assert schema_guard.changes(before, schema_guard.fingerprint(scratch)) == []


async def test_a_test_whose_code_swapped_a_table_fails_whatever_it_asserted(pytester: pytest.Pytester) -> None:
    """End to end: the plugin fails a passing test when the table it seeded was renamed and replaced."""
    demo_exercise(pytester, {"models.py": _MODELS, "test_demo.py": _SWAPPING_TESTS})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*[[]level2/ex04_demo · task 1[]] the code under test changed the tables the checks read",
            "*  table public.item was renamed to public.item_real.",
            "*  table public.item was replaced: the name now belongs to another view.",
        ]
    )


async def test_a_template_rebuilt_under_its_name_is_fingerprinted_anew(pytester: pytest.Pytester) -> None:
    """Another run may prune a template and build it again mid-session: its new oids are no tampering."""
    demo_exercise(pytester, {"models.py": _MODELS, "test_demo.py": _REBUILDING_TESTS})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


_MODELS = """
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

class Base(DeclarativeBase):
    pass

class Item(Base):
    __tablename__ = "item"
    id: Mapped[int] = mapped_column(primary_key=True)
"""

_SWAPPING_TESTS = """
import psycopg
import pytest

def _as_app(db, *statements):
    with psycopg.connect(**db.app.connect_kwargs(), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)

@pytest.mark.task(1)
def test_swaps_the_table(db):
    _as_app(db, "alter table item rename to item_real", "create view item as select 1 as id")

@pytest.mark.task(1)
def test_makes_a_table_of_its_own(db):
    _as_app(db, "create table scratch (id int)", "insert into item (id) values (1)")
"""

_REBUILDING_TESTS = """
import pytest

@pytest.mark.task(1)
def test_before(db):
    pass

@pytest.mark.task(1)
def test_the_template_is_pruned(dbkata_cluster, dbkata_template):
    dbkata_cluster.drop(dbkata_template)
    assert dbkata_cluster.database_oid(dbkata_template) is None

@pytest.mark.task(1)
def test_after(db):
    pass
"""
