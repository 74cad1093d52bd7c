"""Hidden checks for task 1: concurrent withdrawals, made to collide by a gate inside PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from functools import partial
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata.exercise import Exercise

pytestmark = pytest.mark.task(1)

ADVICE = "Look at what each withdrawal knows about the others between its read and its write."


async def open_accounts(admin: AsyncEngine, *balances: int) -> None:
    async with admin.begin() as conn:
        for i, start in enumerate(balances, start=1):
            await conn.execute(
                text("insert into account (owner, balance) values (:o, :b)"), {"o": f"Owner {i}", "b": start}
            )


async def no_waiting_in_the_app(admin: AsyncEngine, withdraw: Callable[[int], Awaitable[Any]], how: str) -> None:
    """A withdrawal from account 4 is answered while one from account 3 waits for its row (held by the harness).

    Decided by order (a stuck run ends once nothing moves for 5 s): code that lets one withdrawal in at a
    time, in one process, fails here in seconds.
    """
    seen = await dbkata.answered_while_held(
        admin, "select id from account where id = 3 for update", lambda: withdraw(3), lambda: withdraw(4)
    )
    what = seen.why_not("the withdrawal from account 3", "the one from account 4")
    if what and not (seen.waited or seen.finished_first or seen.errors):
        dbkata.fail(
            "a withdrawal never waits for a locked row",
            f"The harness locked account 3's row, then started {how} on account 3. {what}",
            "Expected it to wait in PostgreSQL until the row is free, then go on.",
            advice="The database has to keep withdrawals apart: let it queue them.",
        )
    if what:
        dbkata.fail(
            "a withdrawal waits for another one in the app",
            f"While {how} on account 3 waited for its row (locked by the harness), {how} on account 4 was "
            f"started. {what}",
            "Expected it to finish at once: withdrawals from different accounts do not wait for each other, and "
            "a lock inside the app protects nothing once the app runs as several processes.",
            advice="The database has to keep withdrawals apart: it is the one thing every process shares.",
        )


@pytest.mark.guard  # the untouched starter passes it: failing it costs the task
async def test_withdrawals_from_different_accounts_do_not_wait_for_each_other(
    exercise: Exercise, admin: AsyncEngine
) -> None:
    await open_accounts(admin, 100, 999, 500, 500)
    await no_waiting_in_the_app(admin, lambda account: exercise.call("service.withdraw", account, 1), "withdraw()")
    async with exercise.client(base_url="http://check") as client:
        await no_waiting_in_the_app(
            admin,
            lambda account: client.post(f"/accounts/{account}/withdraw", json={"amount": 1}),
            "POST /accounts/{id}/withdraw",
        )


def require_all_arrived(outcomes: dbkata.Race, what: str) -> None:
    """Fail when the gate gave up on a contender that never reached the database (it waited in the app)."""
    if not outcomes.all_arrived:
        dbkata.fail(
            "concurrent withdrawals never meet in the database",
            f"{what}: while some waited at the harness's gate before their UPDATE, the others never reached "
            "the database (nothing moved on the server for 5 s).",
            "Expected every withdrawal to reach the database at once, where they are kept apart. Something "
            "outside the database kept them apart instead (a file lock, a queue): only the database is shared "
            "by every process of the app, wherever it runs.",
            advice="The database has to keep withdrawals apart: it is the one thing every process shares.",
        )


async def balances(admin: AsyncEngine) -> list[int]:
    async with admin.connect() as conn:  # a separate connection: what was really committed
        return [int(b) for b in (await conn.execute(text("select balance from account order by id"))).scalars()]


@pytest.mark.parametrize(
    ("start", "amounts"),
    [
        (100, [30, 50]),  # enough for both
        (100, [60, 70]),  # enough for one of them
        (100, [10, 20, 30, 40]),  # exactly enough for all four
        (50, [20, 20, 20]),  # enough for two of three
    ],
)
async def test_concurrent_withdrawals(exercise: Exercise, admin: AsyncEngine, start: int, amounts: list[int]) -> None:
    await open_accounts(admin, start, 999, 500, 500)
    # each withdrawal in a process of its own, as when the app runs as several workers: whatever keeps
    # them apart must be in the database, the one thing the processes share
    async with exercise.processes(len(amounts)) as workers:
        withdrawals = [partial(w.call, "service.withdraw", 1, a) for w, a in zip(workers, amounts, strict=True)]
        outcomes = await dbkata.race(admin, withdrawals, gate=("account", "UPDATE"))
    require_all_arrived(outcomes, f"withdraw(1, amount) for {amounts} at the same moment")
    final, other, *_ = await balances(admin)
    taken = [a for a, o in zip(amounts, outcomes, strict=True) if o.error is None]
    refused = [a for a, o in zip(amounts, outcomes, strict=True) if dbkata.raised(o.error, "InsufficientFunds")]
    problems = []
    failed = [
        f"withdraw({a}) → {o.describe()}"
        for a, o in zip(amounts, outcomes, strict=True)
        if o.error is not None and not dbkata.raised(o.error, "InsufficientFunds")
    ]
    if failed:
        problems.append(
            "some withdrawals failed instead of succeeding or raising InsufficientFunds: " + "; ".join(failed)
        )
    if final != start - sum(taken):
        problems.append(
            f"the withdrawals that succeeded took {sum(taken)}, so the balance should be "
            f"{start - sum(taken)}; it is {final}"
        )
    if final < 0:
        problems.append(f"the balance went below zero: {final}")
    if sum(amounts) <= start and len(taken) < len(amounts):
        problems.append(f"the balance covered all of them, yet only {len(taken)} of {len(amounts)} succeeded")
    wrongly_refused = [a for a in refused if a <= final]
    if wrongly_refused:
        problems.append(f"refused {wrongly_refused} although the balance ended at {final}")
    if other != 999:
        problems.append(f"another account's balance changed: 999 → {other}")
    if problems:
        dbkata.fail(
            "concurrent withdrawals do not add up",
            f"Account 1 held {start}; withdraw(1, amount) ran at the same moment for amounts {amounts}, each in a "
            "process of the app of its own.",
            "Outcomes: " + ", ".join(f"{a} → {o.describe()}" for a, o in zip(amounts, outcomes, strict=True)),
            *problems,
            advice=ADVICE,
        )


async def test_concurrent_http_withdrawals(exercise: Exercise, admin: AsyncEngine) -> None:
    await open_accounts(admin, 80, 999, 500, 500)
    async with exercise.processes(3) as workers, AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(w.client(base_url="http://check")) for w in workers]
        posts = [
            partial(c.post, "/accounts/1/withdraw", json={"amount": a})
            for c, a in zip(clients, (25, 35, 45), strict=True)
        ]
        outcomes = await dbkata.race(admin, posts, gate=("account", "UPDATE"))
    require_all_arrived(outcomes, "POST /accounts/1/withdraw with 25, 35 and 45 at the same moment")
    statuses = sorted(o.value.status_code if o.value is not None else 0 for o in outcomes)
    final, *_ = await balances(admin)
    if statuses != [200, 200, 409] or final not in (80 - 25 - 35, 80 - 25 - 45, 80 - 35 - 45):
        dbkata.fail(
            "concurrent withdrawals do not add up",
            "Account 1 held 80; POST /accounts/1/withdraw with 25, 35 and 45 arrived at the same moment, each at a "
            "process of the app of its own.",
            f"They answered {statuses} and the balance ended at {final}.",
            "Expected two 200s, one 409, and the balance reduced by exactly the two that succeeded.",
            advice=ADVICE,
        )
