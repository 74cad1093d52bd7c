"""Visible tests for task 1: withdraw() alone, and two withdrawals at the same moment."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata.exercise import Exercise

pytestmark = pytest.mark.task(1)


@pytest.fixture
async def service(exercise: Exercise, admin: AsyncEngine) -> Exercise:
    async with admin.begin() as conn:
        await conn.execute(text("insert into account (owner, balance) values ('Alice', 100), ('Bob', 20)"))
    return exercise


async def balance(admin: AsyncEngine, account_id: int) -> int:
    async with admin.connect() as conn:  # a separate connection: what was really committed
        return int(
            (await conn.execute(text("select balance from account where id = :i"), {"i": account_id})).scalar_one()
        )


@pytest.mark.guard  # the untouched starter passes it
async def test_one_withdrawal(service: Exercise, admin: AsyncEngine) -> None:
    assert await service.call("service.withdraw", 1, 30) == 70
    with dbkata.raises("InsufficientFunds"):
        await service.call("service.withdraw", 2, 25)
    with dbkata.raises("AccountNotFound"):
        await service.call("service.withdraw", 99, 1)
    assert (await balance(admin, 1), await balance(admin, 2)) == (70, 20)


async def test_two_withdrawals_at_the_same_moment_both_count(service: Exercise, admin: AsyncEngine) -> None:
    # First, withdrawals from different accounts must not wait for each other: with Carol's row locked by
    # the test, her withdrawal waits, and Dan's must finish before the row is let go (a lock inside the
    # app fails this in seconds: the app may run as several processes, where such a lock protects nothing).
    async with admin.begin() as conn:
        await conn.execute(text("insert into account (owner, balance) values ('Carol', 50), ('Dan', 50)"))
    seen = await dbkata.answered_while_held(
        admin,
        "select id from account where id = 3 for update",
        lambda: service.call("service.withdraw", 3, 10),
        lambda: service.call("service.withdraw", 4, 10),
    )
    what = seen.why_not("Carol's withdrawal", "Dan's withdrawal")
    if what and not (seen.waited or seen.finished_first or seen.errors):
        dbkata.fail(
            "a withdrawal never waits for a locked row",
            f"The test locked Carol's row, then started her withdrawal. {what}",
            "Expected it to wait in PostgreSQL until the row is free, then go on.",
            advice="The database has to keep withdrawals apart: let it queue them.",
        )
    if what:
        dbkata.fail(
            "a withdrawal waits for another one in the app",
            f"While Carol's withdrawal waited for her row (locked by the test), Dan's was started. {what}",
            "Withdrawals from different accounts must not wait for each other.",
            advice="The database has to keep withdrawals apart: it is the one thing every process shares.",
        )
    # race(): both calls run at once, each in a process of the app of its own (as when it runs as several
    # workers); a gate inside PostgreSQL holds every write to an account until both have got as far as
    # they can, so whatever can go wrong between them does go wrong.
    async with service.processes(2) as (one, other):
        outcomes = await dbkata.race(
            admin,
            [lambda: one.call("service.withdraw", 1, 30), lambda: other.call("service.withdraw", 1, 50)],
            gate=("account", "UPDATE"),
        )
    if not outcomes.all_arrived:  # one of them was kept outside the database until nothing moved for 5 s
        dbkata.fail(
            "two withdrawals never meet in the database",
            "Alice withdrew 30 and 50 at the same moment, and one of them never reached the database while the "
            "other waited at the test's gate.",
            "Something kept them apart outside the database (a file lock, a queue): only the database is "
            "shared by every process of the app, wherever it runs.",
            advice="The database has to keep withdrawals apart: it is the one thing every process shares.",
        )
    final = await balance(admin, 1)
    if [o.kind for o in outcomes] != ["ok", "ok"] or final != 20:
        dbkata.fail(
            "a withdrawal is lost",
            "Alice (balance 100) withdrew 30 and 50 at the same moment, each in a process of the app of its own: "
            f"{', '.join(o.describe() for o in outcomes)}.",
            f"Afterwards her balance was {final} (read from a separate connection); expected 20.",
            advice="Look at what each withdrawal knows about the other between its read and its write.",
        )
