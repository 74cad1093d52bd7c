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
NO_SUCH_PAGE = "/no-such-page"


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
    # The count above is of sessions waiting on the server, which code could add to; this part is decided by
    # order: while one request waits for the locked table, a page that needs no database must be answered.
    seen = await dbkata.answered_while_held(
        admin,
        "lock table task in access exclusive mode",
        lambda: request(client, endpoint, AT_ONCE),
        lambda: client.get(NO_SUCH_PAGE),
    )
    if not (seen.waited and seen.answered and not seen.errors and seen.other.status_code == 404):
        dbkata.fail(
            "a request waiting for PostgreSQL holds up the whole app",
            f"While one {endpoint} waited for the locked task table, GET {NO_SUCH_PAGE} (a page the app does not "
            f"have: a 404 that needs no database) was sent. {_held_up_outcome(seen)}",
            "Expected the 404 at once, while the other request still waits: nothing else may stop while one "
            "request waits for the database.",
            advice="Look at what a route does while it waits for PostgreSQL.",
        )


def _held_up_outcome(seen: dbkata.HeldUp) -> str:
    held_up = f"the request (it answered {seen.held_up.status_code if seen.held_up else '-'})"
    return seen.why_not(held_up, "it") or f"It answered {seen.other.status_code} {seen.other.text[:60]}."


async def test_a_read_is_answered_while_a_write_waits(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    # Decided by order, not by a count of waiting sessions the code could add to: the harness holds a
    # lock that makes writes to task wait and lets reads through; the read must be answered before it
    # lets go. Queued requests stay stuck (nothing moves for 5 s), whatever else the code does meanwhile.
    seen = await dbkata.answered_while_held(
        admin,
        "lock table task in share mode",
        lambda: client.post("/tasks", json={"title": "Held up"}),
        lambda: client.get("/tasks/2"),
    )
    write = "POST /tasks {'title': 'Held up'}"
    if seen.errors or not seen.waited:
        dbkata.fail(
            "a write never waited for the database",
            f"{write} was sent while the harness held a lock on the task table that makes writes wait.",
            f"It answered {_status(seen.held_up, seen.errors)} without waiting for it; expected it to wait, then 201.",
            advice="Run the visible tests first.",
        )
    if not seen.answered:
        dbkata.fail(
            "requests queue up behind each other",
            f"While {write} waited for a lock the harness held on the task table (reads go on, writes wait), "
            "GET /tasks/2 was sent. It was not answered until the lock went (nothing moved for 5 s).",
            "Expected the read to be answered while the write waits: one request waiting for PostgreSQL must "
            "not hold up the others.",
            advice="Look at what a route does while it waits for PostgreSQL.",
        )
    read = seen.other
    if read.status_code != 200 or read.json().get("title") != "Chore 2" or seen.held_up.status_code != 201:
        dbkata.fail(
            "requests answer wrongly while another waits",
            f"GET /tasks/2 answered {read.status_code} {read.text[:80]} while {write} waited; "
            f"the write then answered {seen.held_up.status_code}.",
            "Expected 200 with task 2 ('Chore 2'), then 201.",
            advice="Run the visible tests first.",
        )


def _status(response: httpx.Response | None, errors: list[BaseException]) -> str:
    if errors:
        return f"{type(errors[0]).__name__}: {errors[0]}"[:120]
    return "nothing" if response is None else f"{response.status_code} {response.text[:80]}"


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
