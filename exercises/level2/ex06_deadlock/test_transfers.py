"""Visible tests: run them with `pytest exercises/level2/ex06_deadlock`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata.exercise import Exercise

from .lockstep import lockstep

pytestmark = pytest.mark.task(1)


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


@pytest.mark.guard  # the untouched starter passes it
async def test_one_transfer_moves_the_money(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await open_accounts(admin, {1: 100, 2: 100})
    response = await client.post("/transfers", json={"from_id": 1, "to_id": 2, "amount": 30})
    assert response.status_code == 201, response.text
    assert await balances(admin) == {1: 70, 2: 130}


@pytest.mark.guard  # the untouched starter passes it
async def test_a_transfer_larger_than_the_balance_is_refused(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await open_accounts(admin, {1: 100, 2: 100})
    response = await client.post("/transfers", json={"from_id": 1, "to_id": 2, "amount": 150})
    assert response.status_code == 409, response.text
    assert await balances(admin) == {1: 100, 2: 100}


async def test_opposite_transfers_at_the_same_moment_both_succeed(exercise: Exercise, admin: AsyncEngine) -> None:
    await open_accounts(admin, {1: 100, 2: 100})
    # each transfer at a process of the app of its own, as when it runs as several workers
    async with exercise.processes(2) as (one, other), one.client() as first, other.client() as second:
        run = await lockstep(
            admin,
            [
                lambda: first.post("/transfers", json={"from_id": 1, "to_id": 2, "amount": 30}),
                lambda: second.post("/transfers", json={"from_id": 2, "to_id": 1, "amount": 20}),
            ],
        )
    answers = [
        f"HTTP {o.value.status_code}"
        if o.error is None
        else f"{o.kind} (SQLSTATE {o.sqlstate})"
        if o.sqlstate
        else repr(o.error)
        for o in run.outcomes
    ]
    if run.deadlocks or answers != ["HTTP 201", "HTTP 201"]:
        dbkata.fail(
            "two transfers in opposite directions deadlocked",
            "Sent POST /transfers 1→2 (30) and 2→1 (20) at the same moment, each to a process of the app of "
            "its own; each held its first row before asking for its second.",
            f"Answers: {answers[0]} and {answers[1]}; PostgreSQL broke {run.deadlocks} deadlock(s) "
            "(SQLSTATE 40P01). Expected: both 201, no deadlock.",
            advice="Compare the order in which each transfer locks the two rows.",
        )
    final = await balances(admin)
    if final != {1: 90, 2: 110}:
        dbkata.fail(
            "two overlapping transfers did not add up",
            "After POST /transfers 1→2 (30) and 2→1 (20), both answered 201,",
            f"balances read from a separate connection: {final}; expected {{1: 90, 2: 110}}.",
            advice="Decide on each balance from the row as it is once you hold its lock.",
        )
