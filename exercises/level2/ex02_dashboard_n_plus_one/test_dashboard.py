"""Visible tests for task 1: the dashboard's answer, and what it costs in SQL statements."""

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
    async with exercise.client(base_url="http://test") as client:
        yield client


async def seed_tasks(admin: AsyncEngine, n: int) -> None:
    """Make the database hold exactly n tasks over n // 3 + 1 categories; every 4th task has none."""
    async with admin.begin() as conn:
        await conn.execute(text("truncate task, category restart identity"))
        await conn.execute(
            text("insert into category (name) select 'Category ' || g from generate_series(1, :n / 3 + 1) g"), {"n": n}
        )
        await conn.execute(
            text(
                "insert into task (title, completed, created_at, category_id) "
                "select 'Task ' || g, g % 2 = 0, timestamptz '2025-03-01 09:00+00' + g * interval '1 minute', "
                "case when g % 4 = 0 then null else g % (:n / 3 + 1) + 1 end from generate_series(1, :n) g"
            ),
            {"n": n},
        )


@pytest.mark.guard  # the untouched starter passes it
async def test_every_task_comes_newest_first_with_its_category(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    async with admin.begin() as conn:
        await conn.execute(text("insert into category (name) values ('Work'), ('Home')"))
        await conn.execute(
            text(
                "insert into task (title, completed, created_at, category_id) values "
                "('Write report', false, '2025-03-01 09:00+00', 1), ('Buy milk', true, '2025-03-01 10:00+00', 2), "
                "('Call mum', false, '2025-03-01 10:00+00', null), ('Plan sprint', false, '2025-03-01 08:00+00', 1)"
            )
        )
    response = await client.get("/dashboard/tasks")
    assert response.status_code == 200, response.text
    assert response.json() == [
        {"id": 3, "title": "Call mum", "completed": False, "created_at": "2025-03-01T10:00:00Z", "category_name": None},
        {
            "id": 2,
            "title": "Buy milk",
            "completed": True,
            "created_at": "2025-03-01T10:00:00Z",
            "category_name": "Home",
        },
        {
            "id": 1,
            "title": "Write report",
            "completed": False,
            "created_at": "2025-03-01T09:00:00Z",
            "category_name": "Work",
        },
        {
            "id": 4,
            "title": "Plan sprint",
            "completed": False,
            "created_at": "2025-03-01T08:00:00Z",
            "category_name": "Work",
        },
    ]


async def test_the_statement_count_does_not_grow_with_the_tasks(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    async def seed(n: int) -> None:
        await seed_tasks(admin, n)

    async def run() -> None:
        response = await client.get("/dashboard/tasks")
        assert response.status_code == 200, response.text

    await dbkata.assert_statements_constant(
        seed,
        run,
        sizes=(3, 30),
        what="GET /dashboard/tasks",
        noun="tasks",
        advice="Load every category the page needs in one go.",
    )
