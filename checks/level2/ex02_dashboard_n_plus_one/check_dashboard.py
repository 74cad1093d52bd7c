"""Hidden checks for task 1: the dashboard's statement count does not grow, and its answer is unchanged."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata.exercise import Exercise

pytestmark = pytest.mark.task(1)

PATH = "/dashboard/tasks"


@pytest.fixture
async def client(exercise: Exercise) -> AsyncIterator[httpx.AsyncClient]:
    async with exercise.client(base_url="http://check") as client:
        yield client


async def seed(admin: AsyncEngine, tasks: int, categories: int) -> None:
    """Exactly ``tasks`` tasks over ``categories`` categories; tasks 7, 57, 107… have none; many share a timestamp."""
    async with admin.begin() as conn:
        await conn.execute(text("truncate task, category restart identity"))
        await conn.execute(
            text("insert into category (name) select 'Cat ' || md5(g::text) from generate_series(1, :c) g"),
            {"c": categories},
        )
        await conn.execute(
            text(
                "insert into task (title, completed, created_at, category_id) "
                "select 'Task #' || g, g % 3 = 0, timestamptz '2025-05-01 12:00+00' - (g % 40) * interval '1 second', "
                "case when g % 50 = 7 then null else g % :c + 1 end from generate_series(1, :n) g"
            ),
            {"n": tasks, "c": categories},
        )


async def reference(admin: AsyncEngine) -> list[tuple[Any, ...]]:
    """What the dashboard must list, computed by PostgreSQL on a separate connection."""
    async with admin.connect() as conn:
        rows = await conn.execute(
            text(
                "select t.id, t.title, t.completed, t.created_at, c.name from task t "
                "left join category c on c.id = t.category_id order by t.created_at desc, t.id desc"
            )
        )
        return [tuple(r) for r in rows]


async def get_ok(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get(PATH)
    if response.status_code != 200:
        dbkata.fail(
            f"GET {PATH} fails",
            f"It answered {response.status_code}: {response.text[:300]}",
            advice="Run the visible tests: they show the error.",
        )
    body: list[dict[str, Any]] = response.json()
    return body


async def test_statements_do_not_grow_with_the_tasks(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    async def seed_n(n: int) -> None:
        await seed(admin, n, categories=n // 20 + 1)  # 10 tasks → 1 category, 600 tasks → 31

    async def run() -> None:
        await get_ok(client)

    await dbkata.assert_statements_constant(
        seed_n,
        run,
        sizes=(10, 600),
        what=f"GET {PATH}",
        noun="tasks",
        advice="Load the categories of all tasks with a fixed number of queries, not one per task or per category.",
    )


async def test_batches_of_500_categories_are_the_only_growth(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    counts = []
    for tasks, categories in ((10, 5), (600, 550)):
        await seed(admin, tasks, categories)
        async with dbkata.statements() as log:
            await get_ok(client)
        counts.append((tasks, categories, log))
    (_, small_c, small), (_, big_c, big) = counts
    allowed = small.count + math.ceil(big_c / 500) - math.ceil(small_c / 500)
    if big.count > allowed:
        dbkata.fail(
            f"GET {PATH} issues more SQL statements as the categories grow",
            f"10 tasks in 5 categories → {small.count} statement(s); "
            f"600 tasks in 550 categories → {big.count} statement(s).",
            f"Allowed: {allowed} (one extra SELECT per 500 categories, as selectinload batches them).",
            "With 600 tasks, the statements were:",
            *big.summary(4),
            advice="Load the categories of all tasks with a fixed number of queries.",
        )


@pytest.mark.guard  # the untouched starter passes it
@pytest.mark.parametrize(("tasks", "categories"), [(1, 1), (45, 4), (600, 550)])
async def test_the_answer_is_the_same_as_before(
    client: httpx.AsyncClient, admin: AsyncEngine, tasks: int, categories: int
) -> None:
    await seed(admin, tasks, categories)
    body = await get_ok(client)
    got = [
        (t["id"], t["title"], t["completed"], datetime.fromisoformat(t["created_at"]), t["category_name"]) for t in body
    ]
    want = await reference(admin)
    if got != want:
        first = next((i for i, (g, w) in enumerate(zip(got, want, strict=False)) if g != w), min(len(got), len(want)))
        dbkata.fail(
            f"GET {PATH} answers differently from the original",
            f"With {tasks} task(s) in {categories} categories (tasks 7, 57, 107… have no category):",
            f"got {len(got)} task(s), expected {len(want)}; first difference at position {first}:",
            f"  got      {got[first] if first < len(got) else '(nothing)'}",
            f"  expected {want[first] if first < len(want) else '(nothing)'}",
            "Expected: every task, newest first (higher id first on a tie), category_name null when the task has none.",
            advice="Keep tasks without a category, and keep the order.",
        )
