"""Hidden checks for level2/ex06_deadlock: concurrent transfers never deadlock, money is conserved."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from functools import partial

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata.exercise import Exercise

from .lockstep import LockstepRun, lockstep

pytestmark = pytest.mark.task(1)

ADVICE = "Compare the order in which each transfer locks its two rows."


@pytest.fixture
async def client(exercise: Exercise) -> AsyncIterator[httpx.AsyncClient]:
    async with exercise.client(base_url="http://bank") as client:
        yield client


async def open_accounts(admin: AsyncEngine, balances: dict[int, int]) -> None:
    async with admin.begin() as conn:
        await conn.execute(
            text("insert into account (id, owner, balance) values (:id, :owner, :balance)"),
            [{"id": i, "owner": f"owner {i}", "balance": b} for i, b in balances.items()],
        )


async def balances(admin: AsyncEngine) -> dict[int, int]:
    async with admin.connect() as conn:
        rows = await conn.execute(text("select id, balance from account order by id"))
        return {account_id: balance for account_id, balance in rows}


def answers(run: LockstepRun) -> list[str]:
    return [short(o) for o in run.outcomes]


def short(outcome: dbkata.Outcome) -> str:
    if outcome.error is None:
        return f"HTTP {outcome.value.status_code}"
    if outcome.sqlstate:
        return f"{outcome.kind} (SQLSTATE {outcome.sqlstate})"
    return f"{type(outcome.error).__name__}: {str(outcome.error).splitlines()[0][:100]}"


def tally(got: list[str]) -> str:
    counts = Counter(got)
    return ", ".join(f"{n} × {answer}" for answer, n in sorted(counts.items()))


def describe(transfers: list[tuple[int, int, int]]) -> str:
    return ", ".join(f"{a}→{b} ({amount})" for a, b, amount in transfers)


async def run_transfers(exercise: Exercise, admin: AsyncEngine, transfers: list[tuple[int, int, int]]) -> LockstepRun:
    # each transfer at a process of the app of its own, as when it runs as several workers: a lock inside
    # the app keeps nothing apart, only what the database does counts
    async with exercise.processes(len(transfers)) as workers, AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(w.client(base_url="http://bank")) for w in workers]
        posts = [
            partial(c.post, "/transfers", json={"from_id": a, "to_id": b, "amount": amount})
            for c, (a, b, amount) in zip(clients, transfers, strict=True)
        ]
        run = await lockstep(admin, posts)
    if not run.all_paused:
        dbkata.fail(
            "transfers running at the same moment never meet in the database",
            f"Sent POST /transfers {describe(transfers)} at the same moment, each to a process of the app of "
            "its own; some never reached the database while the others held their first row.",
            "Expected every transfer to reach the database at once: something outside it kept them apart (a "
            "file lock, a queue), which protects nothing once the app runs on several machines.",
            advice=ADVICE,
        )
    return run


@pytest.mark.parametrize(
    "transfers",
    [
        [(12, 7, 40), (7, 12, 25)],
        [(7, 12, 10), (12, 3, 20), (3, 40, 30), (40, 7, 40), (12, 7, 50), (40, 3, 60)],
    ],
    ids=["pair", "cycle_of_six"],
)
async def test_overlapping_transfers_all_succeed_without_deadlock(
    exercise: Exercise, admin: AsyncEngine, transfers: list[tuple[int, int, int]]
) -> None:
    start = {3: 500, 7: 500, 12: 500, 40: 500}
    await open_accounts(admin, start)
    run = await run_transfers(exercise, admin, transfers)
    got = answers(run)
    if any(a != "HTTP 201" for a in got):
        dbkata.fail(
            "transfers running at the same moment do not all succeed",
            f"Sent POST /transfers {describe(transfers)} at the same moment, each to a process of the app of "
            "its own; each held the first row it locked before any asked for another.",
            f"Answers: {tally(got)}.",
            f"PostgreSQL broke {run.deadlocks} deadlock(s) (SQLSTATE 40P01). Expected: every transfer 201.",
            advice=ADVICE,
        )
    if run.deadlocks:
        dbkata.fail(
            "transfers deadlocked (a retry hid it from the client)",
            f"Sent POST /transfers {describe(transfers)} at the same moment: every answer was 201,",
            f"but PostgreSQL had to break {run.deadlocks} deadlock(s) (SQLSTATE 40P01) on the way.",
            "Expected: no deadlock at all; retrying after one does not prevent it.",
            advice=ADVICE,
        )
    if run.lock_timeouts:
        dbkata.fail(
            "transfers waited for each other (a lock timeout and a retry hid it from the client)",
            f"Sent POST /transfers {describe(transfers)} at the same moment: every answer was 201,",
            f"but {run.lock_timeouts} lock wait(s) were given up on the way (SQLSTATE 55P03: lock_timeout or "
            "NOWAIT), each before PostgreSQL could see the deadlock it was part of.",
            "Expected: no transfer gives up waiting for a lock; retrying after a timeout does not prevent the cycle.",
            advice=ADVICE,
        )
    expected = dict(start)
    for a, b, amount in transfers:
        expected[a] -= amount
        expected[b] += amount
    final = await balances(admin)
    if final != expected:
        dbkata.fail(
            "concurrent transfers did not add up",
            f"After POST /transfers {describe(transfers)} (all answered 201),",
            f"balances read from a separate connection: {final}; expected {expected}.",
            advice="Decide on each balance from the row as it is once you hold its lock.",
        )


@pytest.mark.guard  # the untouched starter passes it
async def test_overlapping_transfers_cannot_overdraw(exercise: Exercise, admin: AsyncEngine) -> None:
    await open_accounts(admin, {5: 100, 6: 0, 9: 0})
    transfers = [(5, 6, 70), (5, 9, 60)]
    run = await run_transfers(exercise, admin, transfers)
    got = answers(run)
    final = await balances(admin)
    accepted = [t for t, a in zip(transfers, got, strict=True) if a == "HTTP 201"]
    ok = (
        sorted(got) == ["HTTP 201", "HTTP 409"]
        and not run.deadlocks
        and final == {5: 100 - accepted[0][2], 6: 70 if accepted[0][1] == 6 else 0, 9: 60 if accepted[0][1] == 9 else 0}
    )
    if not ok:
        dbkata.fail(
            "two transfers out of one account overdrew it",
            f"Account 5 held 100; sent POST /transfers {describe(transfers)} at the same moment.",
            f"Answers: {tally(got)}; balances afterwards: {final}.",
            "Expected: one 201 and one 409 (the second sees the balance the first left), money conserved.",
            advice="Decide on the balance only while you hold the lock on it, reading the locked row.",
        )


@pytest.mark.guard  # the untouched starter passes it
@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"from_id": 1, "to_id": 2, "amount": 101}, 409),
        ({"from_id": 1, "to_id": 99, "amount": 10}, 404),
        ({"from_id": 99, "to_id": 2, "amount": 10}, 404),
    ],
    ids=["insufficient_funds", "unknown_target", "unknown_source"],
)
async def test_a_refused_transfer_changes_nothing(
    client: httpx.AsyncClient, admin: AsyncEngine, body: dict[str, int], status: int
) -> None:
    await open_accounts(admin, {1: 100, 2: 50})
    before = await dbkata.snapshot(admin, "account", "transfer")
    response = await client.post("/transfers", json=body)
    call = f"POST /transfers {body}"
    if response.status_code != status:
        dbkata.fail(
            "a transfer that cannot happen got the wrong answer",
            f"{call} answered {response.status_code}; expected {status}.",
            advice="Refuse before changing anything: 404 for an unknown account, 409 for too little money.",
        )
    dbkata.assert_unchanged(before, await dbkata.snapshot(admin, "account", "transfer"), f"{call} answered {status}")
