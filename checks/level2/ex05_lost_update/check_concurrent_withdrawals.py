"""Hidden checks for task 1: concurrent withdrawals, made to collide by a gate inside PostgreSQL."""

from __future__ import annotations

from functools import partial

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
    await open_accounts(admin, start, 999)
    withdrawals = [partial(exercise.call, "service.withdraw", 1, a) for a in amounts]
    outcomes = await dbkata.race(admin, withdrawals, gate=("account", "UPDATE"))
    final, other = await balances(admin)
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
            f"Account 1 held {start}; withdraw(1, amount) ran at the same moment for amounts {amounts}.",
            "Outcomes: " + ", ".join(f"{a} → {o.describe()}" for a, o in zip(amounts, outcomes, strict=True)),
            *problems,
            advice=ADVICE,
        )


async def test_concurrent_http_withdrawals(exercise: Exercise, admin: AsyncEngine) -> None:
    await open_accounts(admin, 80)
    async with exercise.client(base_url="http://check") as client:
        outcomes = await dbkata.race(
            admin,
            [partial(client.post, "/accounts/1/withdraw", json={"amount": a}) for a in (25, 35, 45)],
            gate=("account", "UPDATE"),
        )
    statuses = sorted(o.value.status_code if o.value is not None else 0 for o in outcomes)
    [final] = await balances(admin)
    if statuses != [200, 200, 409] or final not in (80 - 25 - 35, 80 - 25 - 45, 80 - 35 - 45):
        dbkata.fail(
            "concurrent withdrawals do not add up",
            "Account 1 held 80; POST /accounts/1/withdraw with 25, 35 and 45 arrived at the same moment.",
            f"They answered {statuses} and the balance ended at {final}.",
            "Expected two 200s, one 409, and the balance reduced by exactly the two that succeeded.",
            advice=ADVICE,
        )
