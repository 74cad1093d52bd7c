"""Visible tests for task 1: the session dependency finishes every request, the failed ones too."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata.exercise import Exercise

pytestmark = pytest.mark.task(1)


@pytest.fixture
async def client(exercise: Exercise) -> AsyncIterator[httpx.AsyncClient]:
    async with exercise.client(base_url="http://test") as client:  # a crash shows up as a 500
        yield client


async def test_a_404_gives_its_connection_back(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    async with dbkata.connections(admin) as probe:  # the garbage collector is off inside: no leak can hide
        for _ in range(3):
            response = await client.get("/tasks/999")
            assert response.status_code == 404, f"GET /tasks/999 answered {response.status_code}, expected 404"
    probe.assert_no_leaks(what="3 requests to GET /tasks/999 that answered 404")


@pytest.mark.guard  # the untouched starter passes it
async def test_a_created_task_is_committed(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    response = await client.post("/tasks", json={"title": "Water the plants"})
    assert response.status_code == 201, response.text
    async with admin.connect() as conn:  # a separate connection sees only what was committed
        titles = (await conn.execute(text("select title from task"))).scalars().all()
    if titles != ["Water the plants"]:
        dbkata.fail(
            "a successful request is not committed",
            "POST /tasks answered 201 for 'Water the plants'.",
            f"Afterwards, read from a separate connection, the task table held {titles}.",
            advice="Commit when the route returns normally.",
        )


async def test_a_refused_batch_leaves_nothing_behind(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    async with admin.begin() as conn:
        await conn.execute(text("insert into task (title) values ('Buy milk')"))
    before = await dbkata.snapshot(admin, "task")
    async with dbkata.connections(admin) as probe:
        response = await client.post("/tasks/batch", json={"titles": ["Call mum", "Pay rent", "Buy milk"]})
    assert response.status_code == 409, f"the batch answered {response.status_code}, expected 409"
    probe.assert_no_leaks(what="POST /tasks/batch answered 409")
    dbkata.assert_unchanged(
        before,
        await dbkata.snapshot(admin, "task"),
        what="POST /tasks/batch ['Call mum', 'Pay rent', 'Buy milk'] answered 409",
        advice="A request that fails must roll back what it flushed.",
    )
