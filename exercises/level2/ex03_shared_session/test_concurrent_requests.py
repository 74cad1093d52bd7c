"""Visible tests for task 1: requests that run at the same time do not disturb each other."""

from __future__ import annotations

import asyncio
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
    async with exercise.client(base_url="http://test") as client:
        yield client


@pytest.mark.guard  # the untouched starter passes it
async def test_one_request_at_a_time_works(client: httpx.AsyncClient) -> None:
    created = await client.post("/tasks", json={"title": "Water the plants"})
    assert created.status_code == 201, created.text
    again = await client.post("/tasks", json={"title": "Water the plants"})
    assert again.status_code == 409, again.text
    assert (await client.get(f"/tasks/{created.json()['id']}")).json()["title"] == "Water the plants"


async def test_eight_tasks_created_at_once_are_all_saved(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    titles = [f"Errand {i}" for i in range(1, 9)]
    responses = await asyncio.gather(*(client.post("/tasks", json={"title": t}) for t in titles))
    statuses = [r.status_code for r in responses]
    async with admin.connect() as conn:  # a separate connection: what was really committed
        saved = set((await conn.execute(text("select title from task"))).scalars())
    if statuses != [201] * 8 or saved != set(titles):
        dbkata.fail(
            "concurrent requests disturb each other",
            f"8 POST /tasks sent at the same time answered {statuses}; expected 201 each.",
            f"Afterwards the task table held {len(saved)} of the 8 tasks: {sorted(saved)}.",
            advice="Look at what two requests running at the same time share.",
        )
