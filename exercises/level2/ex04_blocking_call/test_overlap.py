"""Visible tests for task 1: same answers as before, and no request holds up the others."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata.exercise import Exercise

from .slowdb import LockedTable

pytestmark = pytest.mark.task(1)


@pytest.fixture
async def client(exercise: Exercise, admin: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with admin.begin() as conn:
        await conn.execute(text("insert into task (title, done) values ('Buy milk', true), ('Call mum', false)"))
    async with exercise.client(base_url="http://test") as client:
        yield client


@pytest.mark.guard  # the untouched starter passes it
async def test_the_answers_stay_the_same(client: httpx.AsyncClient) -> None:
    assert (await client.get("/tasks")).json() == [
        {"id": 1, "title": "Buy milk", "done": True},
        {"id": 2, "title": "Call mum", "done": False},
    ]
    assert (await client.get("/stats")).json() == {"total": 2, "done": 1}
    created = await client.post("/tasks", json={"title": "Pay rent"})
    assert (created.status_code, created.json()) == (201, {"id": 3, "title": "Pay rent", "done": False})
    assert (await client.get("/tasks/3")).json()["title"] == "Pay rent"
    assert (await client.get("/tasks/99")).status_code == 404


async def test_three_requests_wait_for_the_database_together(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    # While we hold a lock on the task table, every query on it waits: a slow database, on purpose.
    # Overlapping requests all queue within milliseconds; queued ones never come, and the lock goes once
    # nothing has moved for 5 s (slowdb.LockedTable).
    async with LockedTable(admin, "task", expect=3, patience=15.0) as lock:  # ends as soon as 3 wait
        responses = await asyncio.gather(*(client.get("/tasks") for _ in range(3)))
    assert [r.status_code for r in responses] == [200, 200, 200]
    if lock.peak < 3:
        dbkata.fail(
            "requests queue up behind each other",
            "3 GET /tasks were sent at once while the database was slow.",
            f"At most {lock.peak} of them reached PostgreSQL at the same time; expected all 3.",
            "While one request waits for the database, nothing else runs.",
            advice="Look at what a route does while it waits for PostgreSQL.",
        )
    # And by order, not by count: while one GET /tasks waits for the locked table, a page that needs no
    # database (a 404) must be answered before the lock goes.
    seen = await dbkata.answered_while_held(
        admin, "lock table task in access exclusive mode", lambda: client.get("/tasks"), lambda: client.get("/nope")
    )
    if not (seen.waited and seen.answered):
        dbkata.fail(
            "a request waiting for PostgreSQL holds up the whole app",
            "While one GET /tasks waited for the locked task table, GET /nope (a 404 that needs no database) was "
            + ("not answered until the lock went (nothing moved for 5 s)." if seen.waited else "sent."),
            "Expected the 404 at once, while GET /tasks still waits.",
            advice="Look at what a route does while it waits for PostgreSQL.",
        )
    assert not seen.errors, seen.errors
    assert (seen.held_up.status_code, seen.other.status_code) == (200, 404)
