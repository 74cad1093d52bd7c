"""Task 2: tests that fail with the original get_session() and pass with a correct one."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from types import ModuleType

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dbkata.exercise import Exercise

pytestmark = pytest.mark.task(2)


@pytest.fixture
def database(exercise: Exercise) -> ModuleType:
    return exercise.module("database")


@pytest.fixture
async def client(exercise: Exercise) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=exercise.module("main").app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def titles(admin: AsyncEngine) -> list[str]:
    """The committed task titles, read on a connection of the test's own."""
    async with admin.connect() as conn:
        return list((await conn.execute(text("select title from task order by id"))).scalars())


async def test_a_404_returns_its_connection_to_the_pool(client: httpx.AsyncClient, database: ModuleType) -> None:
    gc.collect()
    gc.disable()  # an abandoned session is only reclaimed by the garbage collector: keep it from hiding the leak
    try:
        statuses = [(await client.get("/tasks/999")).status_code for _ in range(5)]
        checked_out = database.get_engine().pool.checkedout()
    finally:
        gc.enable()
    assert statuses == [404] * 5
    assert checked_out == 0, f"{checked_out} connection(s) still checked out after 5 answered 404"


async def test_a_failed_request_keeps_nothing_it_flushed(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    async with admin.begin() as conn:
        await conn.execute(text("insert into task (title) values ('Buy milk')"))
    response = await client.post("/tasks/batch", json={"titles": ["Call mum", "Buy milk"]})
    assert response.status_code == 409  # the error still reaches the client
    assert await titles(admin) == ["Buy milk"]  # 'Call mum' was flushed, then rolled back


async def test_a_successful_request_is_committed(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    response = await client.post("/tasks/batch", json={"titles": ["Call mum", "Pay rent"]})
    assert response.status_code == 201
    assert await titles(admin) == ["Call mum", "Pay rent"]


async def test_requests_share_the_apps_connections(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    gc.collect()
    gc.disable()  # an abandoned engine is only reclaimed by the garbage collector: keep it from hiding the pile
    try:
        statuses = [(await client.post("/tasks", json={"title": f"Chore {i}"})).status_code for i in range(5)]
        async with admin.connect() as conn:  # the server's view: every connection to this database but ours
            held = (
                await conn.execute(
                    text(
                        "select count(*) from pg_stat_activity where datname = current_database() "
                        "and pid <> pg_backend_pid() and backend_type = 'client backend'"
                    )
                )
            ).scalar_one()
    finally:
        gc.enable()
    assert statuses == [201] * 5
    assert held <= 2, f"the server holds {held} connections after 5 requests sent one after the other"
