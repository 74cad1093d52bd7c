"""The race gate makes lost updates and deadlocks happen on every run, and proves the fixes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from types import ModuleType

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata.exercise import Exercise


async def _accounts(admin: AsyncEngine, *balances: int) -> None:
    async with admin.begin() as conn:
        for i, balance in enumerate(balances, start=1):
            await conn.execute(text("insert into account (id, balance) values (:i, :b)"), {"i": i, "b": balance})


async def _balances(admin: AsyncEngine) -> list[int]:
    async with admin.connect() as conn:
        return list((await conn.execute(text("select balance from account order by id"))).scalars())


def _twice(fn: Callable[..., Awaitable[None]], *args: int) -> list[Callable[[], Awaitable[None]]]:
    return [lambda: fn(*args), lambda: fn(*args)]


@pytest.mark.parametrize("repeat", range(5))
async def test_read_modify_write_loses_an_update(apps: ModuleType, admin: AsyncEngine, repeat: int) -> None:
    await _accounts(admin, 100)
    outcomes = await dbkata.race(admin, _twice(apps.withdraw_naive, 1, 30), gate=("account", "UPDATE"))
    assert outcomes.all_arrived
    assert [o.kind for o in outcomes] == ["ok", "ok"]
    assert await _balances(admin) == [70]  # one withdrawal vanished


@pytest.mark.parametrize("variant", ["withdraw_for_update", "withdraw_atomic"])
@pytest.mark.parametrize("repeat", range(3))
async def test_locking_fixes_keep_both_updates(apps: ModuleType, admin: AsyncEngine, variant: str, repeat: int) -> None:
    await _accounts(admin, 100)
    outcomes = await dbkata.race(admin, _twice(getattr(apps, variant), 1, 30), gate=("account", "UPDATE"))
    assert outcomes.all_arrived
    assert [o.kind for o in outcomes] == ["ok", "ok"]
    assert await _balances(admin) == [40]


async def test_a_lock_in_the_app_keeps_contenders_from_meeting(apps: ModuleType, admin: AsyncEngine) -> None:
    """The second withdrawal waits in the app, never in the database: the gate gives up once nothing moves."""
    await _accounts(admin, 100)
    outcomes = await dbkata.race(
        admin, _twice(apps.withdraw_one_at_a_time, 1, 30), gate=("account", "UPDATE"), settle=1.0
    )
    assert not outcomes.all_arrived
    assert [o.kind for o in outcomes] == ["ok", "ok"]  # the app lock did keep them apart, in this one process
    assert await _balances(admin) == [40]


async def test_a_loop_that_stands_still_is_not_nothing_moving(apps: ModuleType, admin: AsyncEngine) -> None:
    """The gate counts only time it spent polling: a contender that blocks the loop for longer than
    ``settle`` (in-process, the loop is the harness's) still arrives, and the gate waits for it."""
    await _accounts(admin, 100)
    outcomes = await dbkata.race(
        admin,
        [lambda: apps.withdraw_atomic(1, 30), lambda: apps.withdraw_after_blocking_the_loop(1, 30)],
        gate=("account", "UPDATE"),
        settle=1.0,
    )
    assert outcomes.all_arrived
    assert [o.kind for o in outcomes] == ["ok", "ok"]
    assert await _balances(admin) == [40]


@pytest.mark.parametrize("repeat", range(5))
async def test_opposite_transfers_deadlock(apps: ModuleType, admin: AsyncEngine, repeat: int) -> None:
    await _accounts(admin, 100, 100)
    outcomes = await dbkata.race(
        admin,
        [lambda: apps.transfer_unordered(1, 2, 10), lambda: apps.transfer_unordered(2, 1, 10)],
        gate=("account", "UPDATE"),
    )
    assert sorted(o.kind for o in outcomes) == ["deadlock", "ok"]
    failed = next(o for o in outcomes if o.error is not None)
    assert failed.sqlstate == "40P01"
    assert sum(await _balances(admin)) == 200


@pytest.mark.parametrize("repeat", range(3))
async def test_ordered_transfers_do_not_deadlock(apps: ModuleType, admin: AsyncEngine, repeat: int) -> None:
    await _accounts(admin, 100, 100)
    outcomes = await dbkata.race(
        admin,
        [lambda: apps.transfer_ordered(1, 2, 10), lambda: apps.transfer_ordered(2, 1, 10)],
        gate=("account", "UPDATE"),
    )
    assert [o.kind for o in outcomes] == ["ok", "ok"]
    assert await _balances(admin) == [100, 100]


@pytest.mark.parametrize("repeat", range(5))
async def test_lockstep_parks_after_select_for_update(apps: ModuleType, admin: AsyncEngine, repeat: int) -> None:
    """Locks taken by SELECT ... FOR UPDATE (no trigger can gate them) still meet head-on."""
    await _accounts(admin, 100, 100)
    run = await dbkata.lockstep(
        admin,
        [
            lambda: apps.transfer_locking_in_argument_order(1, 2, 10),
            lambda: apps.transfer_locking_in_argument_order(2, 1, 10),
        ],
        table="account",
    )
    assert run.all_paused
    assert sorted(o.kind for o in run.outcomes) == ["deadlock", "ok"]
    assert run.deadlocks == 1


@pytest.mark.parametrize("repeat", range(3))
async def test_lockstep_sees_a_deadlock_the_code_retried_away(
    apps: ModuleType, admin: AsyncEngine, repeat: int
) -> None:
    await _accounts(admin, 100, 100)
    run = await dbkata.lockstep(
        admin,
        [lambda: apps.transfer_retrying_deadlocks(1, 2, 10), lambda: apps.transfer_retrying_deadlocks(2, 1, 10)],
        table="account",
    )
    assert [o.kind for o in run.outcomes] == ["ok", "ok"]  # the client saw nothing wrong...
    assert run.deadlocks >= 1  # ...but PostgreSQL had to break a deadlock


@pytest.mark.parametrize("repeat", range(3))
async def test_lockstep_accepts_ordered_locking(apps: ModuleType, admin: AsyncEngine, repeat: int) -> None:
    await _accounts(admin, 100, 100)
    run = await dbkata.lockstep(
        admin, [lambda: apps.transfer_ordered(1, 2, 10), lambda: apps.transfer_ordered(2, 1, 10)], table="account"
    )
    assert [o.kind for o in run.outcomes] == ["ok", "ok"]
    assert run.deadlocks == 0
    assert await _balances(admin) == [100, 100]


def test_takes_row_locks() -> None:
    assert dbkata.takes_row_locks("SELECT account.id FROM account WHERE account.id = $1 FOR UPDATE", "account")
    assert dbkata.takes_row_locks("UPDATE account SET balance=(account.balance - $1)", "account")
    assert not dbkata.takes_row_locks("SELECT account.id FROM account", "account")
    assert not dbkata.takes_row_locks("UPDATE note SET body = $1", "account")


@pytest.mark.parametrize("variant", ["transfer_unordered", "transfer_raw_unordered"])
@pytest.mark.parametrize("repeat", range(5))
async def test_lockstep_makes_opposite_transfers_deadlock(
    apps: ModuleType, admin: AsyncEngine, variant: str, repeat: int
) -> None:
    """The relay holds each UPDATE's answer until both hold a row: the deadlock happens on every run."""
    await _accounts(admin, 100, 100)
    transfer = getattr(apps, variant)
    run = await dbkata.lockstep(
        admin, [lambda: transfer(1, 2, 10), lambda: transfer(2, 1, 10)], table="account", max_wait=30
    )
    assert run.all_paused
    assert sorted(o.kind for o in run.outcomes) == ["deadlock", "ok"]
    assert run.database_errors == ["40P01"]
    assert sum(await _balances(admin)) == 200


async def test_lockstep_lets_go_of_a_call_that_never_locks(apps: ModuleType, admin: AsyncEngine) -> None:
    await _accounts(admin, 100)
    run = await dbkata.lockstep(admin, [lambda: apps.slow_report_async()], table="account")
    assert run.all_paused
    assert [o.kind for o in run.outcomes] == ["ok"]


@pytest.mark.parametrize("tamper", ["drop_the_gate_then_withdraw", "pause_the_gate_then_withdraw"])
async def test_a_gate_the_code_dropped_fails_the_race(apps: ModuleType, admin: AsyncEngine, tamper: str) -> None:
    """Without its gate a race shows nothing: code that drops or pauses it (it owns the table) fails instead."""
    await _accounts(admin, 100)
    with pytest.raises(pytest.fail.Exception, match="the code under test removed a trigger of the checks"):
        await dbkata.race(
            admin,
            [lambda: getattr(apps, tamper)(1, 30), lambda: apps.withdraw_naive(1, 30)],
            gate=("account", "UPDATE"),
        )
    async with admin.connect() as conn:
        leftovers = (await conn.execute(text("select count(*) from pg_proc where proname = 'dbkata_gate'"))).scalar()
    assert leftovers == 0


async def test_processes_share_the_database_and_nothing_else(exercise: Exercise, admin: AsyncEngine) -> None:
    """The app lock that keeps two withdrawals apart in one process keeps nothing apart across two."""
    await _accounts(admin, 100)
    async with exercise.processes(2) as workers:
        outcomes = await dbkata.race(
            admin,
            [partial(w.call, "apps.withdraw_one_at_a_time", 1, 30) for w in workers],
            gate=("account", "UPDATE"),
        )
    assert outcomes.all_arrived  # both reached the database at once: the lock was each process's own
    assert [o.kind for o in outcomes] == ["ok", "ok"]
    assert await _balances(admin) == [40]
