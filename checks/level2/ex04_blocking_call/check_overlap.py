"""Hidden checks for task 1: every endpoint lets concurrent requests reach the database together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata.exercise import Exercise
from dbkata.feedback import record_evidence

from .slowdb import LockedTable

pytestmark = pytest.mark.task(1)

AT_ONCE = 4


@pytest.fixture
async def client(exercise: Exercise, admin: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with admin.begin() as conn:
        await conn.execute(
            text("insert into task (title, done) select 'Chore ' || g, g % 3 = 0 from generate_series(1, 7) g")
        )
    async with exercise.client(base_url="http://check") as client:
        yield client


def request(client: httpx.AsyncClient, endpoint: str, i: int) -> asyncio.Future[httpx.Response]:
    if endpoint == "POST /tasks":
        return asyncio.ensure_future(client.post("/tasks", json={"title": f"Concurrent {i}"}))
    path = endpoint.split(" ", 1)[1].replace("{id}", str(i + 2))
    return asyncio.ensure_future(client.get(path))


@pytest.mark.parametrize("endpoint", ["GET /tasks", "GET /tasks/{id}", "GET /stats", "POST /tasks"])
async def test_concurrent_requests_overlap(client: httpx.AsyncClient, admin: AsyncEngine, endpoint: str) -> None:
    # patience: a safety net for a loaded machine; the verdict is the count, and a correct fix ends it at once
    async with LockedTable(admin, "task", expect=AT_ONCE, patience=30.0) as lock:
        responses = await asyncio.gather(*(request(client, endpoint, i) for i in range(AT_ONCE)))
    record_evidence("waiting together", {"endpoint": endpoint, "peak": lock.peak, "sent": AT_ONCE})
    statuses = [r.status_code for r in responses]
    wanted = 201 if endpoint.startswith("POST") else 200
    if statuses != [wanted] * AT_ONCE:
        dbkata.fail(
            f"{endpoint} fails under concurrent requests",
            f"{AT_ONCE} requests sent at once answered {statuses}; expected {wanted} each.",
            advice="Run the visible tests first.",
        )
    if lock.peak < AT_ONCE:
        dbkata.fail(
            "requests queue up behind each other",
            f"{AT_ONCE} × {endpoint} were sent at once while the database was slow (a lock held on the task table).",
            f"At most {lock.peak} of them reached PostgreSQL at the same time; expected all {AT_ONCE}.",
            "Something makes each request wait for the previous one: the event loop, a lock, or the connection pool.",
            advice="Look at what a route does while it waits for PostgreSQL.",
        )


@pytest.mark.guard  # the untouched starter passes it
async def test_the_answers_stay_the_same(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    listed = (await client.get("/tasks")).json()
    want = [{"id": g, "title": f"Chore {g}", "done": g % 3 == 0} for g in range(1, 8)]
    created = await client.post("/tasks", json={"title": "Defrost the freezer"})
    one = await client.get("/tasks/8")
    missing = await client.get("/tasks/80")
    stats = (await client.get("/stats")).json()
    async with admin.connect() as conn:
        saved = (await conn.execute(text("select title from task where id = 8"))).scalar()
    got = (listed, created.status_code, created.json(), one.json(), missing.status_code, stats, saved)
    expected = (
        want,
        201,
        {"id": 8, "title": "Defrost the freezer", "done": False},
        {"id": 8, "title": "Defrost the freezer", "done": False},
        404,
        {"total": 8, "done": 2},
        "Defrost the freezer",
    )
    labels = (
        "GET /tasks",
        "POST /tasks status",
        "POST /tasks body",
        "GET /tasks/8",
        "GET /tasks/80 status",
        "GET /stats",
        "task 8 as committed",
    )
    wrong = [f"{label}: got {g!r}, expected {e!r}" for label, g, e in zip(labels, got, expected, strict=True) if g != e]
    if wrong:
        dbkata.fail(
            "the endpoints answer differently from before",
            *wrong,
            advice="Keep every route's contract; change only how it talks to the database.",
        )
