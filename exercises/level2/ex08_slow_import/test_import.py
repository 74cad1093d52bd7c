"""Visible tests: run them with `pytest exercises/level2/ex08_slow_import`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata.exercise import Exercise


@pytest.fixture
async def client(exercise: Exercise, admin: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with admin.begin() as conn:
        await conn.execute(
            text("insert into category (id, name) select g, 'category ' || g from generate_series(1, 10) g")
        )
    async with exercise.client(base_url="http://tasks") as client:
        yield client


def csv_rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "title": f"Imported task {i}",
            "description": f"line {i} of the export",
            "category_id": i % 10 + 1,
            "priority": i % 5 + 1,
            "due_date": f"2030-01-{i % 28 + 1:02d}" if i % 2 else None,
            "estimate_minutes": i * 5 if i % 3 else None,
        }
        for i in range(n)
    ]


async def saved_rows(admin: AsyncEngine) -> list[dict[str, Any]]:
    async with admin.connect() as conn:
        rows = await conn.execute(
            text(
                "select title, description, category_id, priority, due_date::text, "
                "estimate_minutes from task order by title"
            )
        )
        return [dict(r) for r in rows.mappings()]


@pytest.mark.guard  # the untouched starter passes it
@pytest.mark.task(1)
async def test_every_row_is_saved_with_its_values(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    rows = csv_rows(6)
    response = await client.post("/tasks/import", json=rows)
    assert response.status_code == 201, response.text
    assert response.json() == {"imported": 6}
    assert await saved_rows(admin) == sorted(rows, key=lambda r: r["title"])


@pytest.mark.task(1)
async def test_forty_rows_take_a_handful_of_round_trips(client: httpx.AsyncClient) -> None:
    async with dbkata.statements() as log:
        response = await client.post("/tasks/import", json=csv_rows(40))
    assert response.status_code == 201, response.text
    log.assert_round_trips_at_most(
        4,
        what="POST /tasks/import with 40 rows",
        advice="Look for SQL that runs once per row; send the rows (and the category check) in bulk.",
    )


@pytest.mark.guard  # the untouched starter passes it
@pytest.mark.task(1)
async def test_a_row_with_an_unknown_category_rejects_the_whole_import(
    client: httpx.AsyncClient, admin: AsyncEngine
) -> None:
    rows = csv_rows(8)
    rows[5]["category_id"] = 99
    response = await client.post("/tasks/import", json=rows)
    assert response.status_code == 422, response.text
    assert "row 5" in response.json()["detail"]
    assert await saved_rows(admin) == []
