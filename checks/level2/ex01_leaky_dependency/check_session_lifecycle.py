"""Hidden checks for task 1: get_session() finishes every request, on every path, and owns the transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata.cluster import Database
from dbkata.exercise import Exercise

pytestmark = pytest.mark.task(1)

SEEDED = ["Buy milk", "Call mum", "Pay rent"]


@pytest.fixture
async def client(exercise: Exercise, admin: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with admin.begin() as conn:
        for title in SEEDED:
            await conn.execute(text("insert into task (title) values (:t)"), {"t": title})
    async with exercise.client(base_url="http://check") as client:
        yield client


@asynccontextmanager
async def refusing(exercise: Exercise, admin: AsyncEngine, nth: int) -> AsyncIterator[None]:
    """The database refuses the nth INSERT into task while the block runs."""
    async with dbkata.fail_nth(admin, table="task", nth=nth):
        yield
        # A session the code abandoned keeps its transaction, and its lock on task, until the garbage
        # collector reclaims it; removing the trigger would wait for that lock. Reclaim it first.
        await exercise.collect_garbage()


async def committed_titles(admin: AsyncEngine) -> list[str]:
    async with admin.connect() as conn:
        return list((await conn.execute(text("select title from task order by id"))).scalars())


async def test_no_connection_is_kept_by_failing_requests(
    exercise: Exercise, client: httpx.AsyncClient, admin: AsyncEngine
) -> None:
    statuses = []
    async with refusing(exercise, admin, nth=1), dbkata.connections(admin) as probe:
        statuses.append((await client.post("/tasks", json={"title": "Tidy"})).status_code)  # the database refuses
        for missing in (4, 999, 12345, 7):
            statuses.append((await client.get(f"/tasks/{missing}")).status_code)
        for batch in (["Buy milk"], ["Walk the dog", "Call mum"], ["Read", "Write", "Pay rent"]):
            statuses.append((await client.post("/tasks/batch", json={"titles": batch})).status_code)
    probe.assert_no_leaks(
        what="8 failed requests (POST /tasks refused by the database → 500, 4 × GET of a "
        "missing task → 404, 3 × POST /tasks/batch with a taken title → 409)"
    )
    assert statuses == [500] + [404] * 4 + [409] * 3, statuses


@pytest.mark.guard  # the untouched starter passes it
async def test_successful_requests_are_committed_and_closed(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    async with dbkata.connections(admin) as probe:
        single = await client.post("/tasks", json={"title": "Water the plants"})
        batch = await client.post("/tasks/batch", json={"titles": ["Book flights", "Renew passport"]})
        found = await client.get("/tasks/1")
    probe.assert_no_leaks(what="3 successful requests (POST /tasks, POST /tasks/batch, GET /tasks/1)")
    assert (single.status_code, batch.status_code, found.status_code) == (201, 201, 200)
    expected = [*SEEDED, "Water the plants", "Book flights", "Renew passport"]
    titles = await committed_titles(admin)
    if titles != expected:
        dbkata.fail(
            "a successful request is not committed",
            "POST /tasks 'Water the plants' and POST /tasks/batch ['Book flights', 'Renew passport'] "
            "both answered 201.",
            f"Afterwards, read from a separate connection, the task titles were {titles};",
            f"expected {expected}.",
            advice="Commit when the route returns normally.",
        )


@pytest.mark.guard  # the untouched starter passes it
@pytest.mark.parametrize(
    ("titles", "nth_insert_fails"),
    [
        (["Walk the dog", "Call mum"], None),  # 409 at the 2nd title
        (["Read", "Write", "Draw", "Pay rent"], None),  # 409 at the 4th title
        (["Tidy", "Cook", "Shop", "Clean"], 3),  # the database refuses the 3rd INSERT
    ],
)
async def test_a_failed_request_leaves_no_row(
    exercise: Exercise,
    client: httpx.AsyncClient,
    admin: AsyncEngine,
    titles: list[str],
    nth_insert_fails: int | None,
) -> None:
    before = await dbkata.snapshot(admin, "task")
    if nth_insert_fails is None:
        response = await client.post("/tasks/batch", json={"titles": titles})
        what = f"POST /tasks/batch {titles} answered {response.status_code} (one title was taken)"
    else:
        async with refusing(exercise, admin, nth=nth_insert_fails):
            response = await client.post("/tasks/batch", json={"titles": titles})
        what = f"POST /tasks/batch {titles} answered {response.status_code} (the database refused INSERT #3)"
    assert response.status_code >= 400, f"{what}: expected an error status"
    dbkata.assert_unchanged(
        before,
        await dbkata.snapshot(admin, "task"),
        what=what,
        advice="When the route raises, roll back what the request flushed.",
    )


@pytest.mark.guard  # the untouched starter passes it
async def test_errors_still_reach_the_client(exercise: Exercise, client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    got = []
    async with refusing(exercise, admin, nth=1):
        refused = await client.post("/tasks", json={"title": "Refused"})
    got.append(("POST /tasks refused by the database", refused.status_code, 500))
    missing = await client.get("/tasks/404")
    got.append(("GET /tasks/404", missing.status_code, 404))
    taken = await client.post("/tasks/batch", json={"titles": ["Fresh", "Buy milk"]})
    got.append(("POST /tasks/batch with the taken title 'Buy milk'", taken.status_code, 409))
    wrong = [f"{call} answered {status}; expected {want}" for call, status, want in got if status != want]
    if wrong:
        dbkata.fail(
            "an error no longer reaches the client",
            *wrong,
            "The route's exception must leave get_session() again, after the rollback.",
            advice="Look at what your except block does with the exception it caught.",
        )


def app_backends(admin: AsyncEngine, role: str):  # type: ignore[no-untyped-def]
    """A callback: the server connections (pid, start) the app's role holds now; the harness's are not counted."""

    async def read() -> set[tuple[int, str]]:
        async with admin.connect() as conn:
            rows = await conn.execute(
                text(
                    "select pid, backend_start::text from pg_stat_activity where datname = current_database() "
                    "and pid <> pg_backend_pid() and backend_type = 'client backend' and usename = :role"
                ),
                {"role": role},
            )
            return {(pid, start) for pid, start in rows}

    return read


def sequential_request(i: int) -> tuple[str, str, dict[str, object] | None, int]:
    """The i-th of a sequence: a success, a 404 and a 409 in turn (method, path, body, expected status)."""
    if i % 3 == 0:
        return "POST", "/tasks", {"title": f"Sequential {i}"}, 201
    if i % 3 == 1:
        return "GET", f"/tasks/{1000 + i}", None, 404
    return "POST", "/tasks/batch", {"titles": [f"Fresh {i}", "Buy milk"]}, 409


POOLED = 2  # requests one at a time can share one pooled connection; allow one more
SEQUENCE = "POST /tasks → 201, GET /tasks/<missing> → 404, POST /tasks/batch with a taken title → 409, in turn"


async def test_server_connections_do_not_grow_with_requests(
    exercise: Exercise, admin: AsyncEngine, db: Database, client: httpx.AsyncClient
) -> None:
    # Judged from the server: at the moment each response starts, the request's own connection is in
    # use and visible in pg_stat_activity, whatever the garbage collector does to abandoned ones later.
    seen = app_backends(admin, db.app.user)
    served: set[tuple[int, str]] = set()
    after: list[int] = []
    for i in range(12):
        method, path, body, expected = sequential_request(i)
        res = await exercise.asgi_request(method, path, json=body, at_response_start=seen)
        if res.status != expected:
            dbkata.fail(
                "requests fail one after the other",
                f"Request {i + 1} of 12 sent one after the other ({SEQUENCE}): {method} {path} answered "
                f"{res.status}; expected {expected}.",
                advice="Run the visible tests first.",
            )
        served |= res.at_response_start
        after.append(len(served))
    if after[-1] > POOLED:
        dbkata.fail(
            "every request opens a new server connection",
            f"Sent 12 requests one after the other ({SEQUENCE}).",
            f"They were served by {after[2]} different server connections of the app's role after 3 "
            f"requests and {after[-1]} after 12 (pg_stat_activity, read when each response started);",
            f"expected at most {POOLED}, whatever the number of requests: one request at a time can reuse "
            "one pooled connection. Connections nobody closes pile up on the server.",
            advice="Look at how many engines (each with its own pool) your code creates.",
        )
