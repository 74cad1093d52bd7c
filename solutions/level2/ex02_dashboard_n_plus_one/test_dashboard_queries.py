"""Task 2: a test that fails with the original dashboard and passes with a fixed one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dbkata.exercise import Exercise

pytestmark = pytest.mark.task(2)


async def test_dashboard_no_n_plus_one(exercise: Exercise, admin: AsyncEngine) -> None:
    # Setup, in its own committed transaction: 20 tasks across 3 categories, and 1 task with none.
    async with admin.begin() as conn:
        await conn.execute(text("insert into category (name) values ('Work'), ('Home'), ('Garden')"))
        await conn.execute(
            text(
                "insert into task (title, completed, created_at, category_id) "
                "select 'Task ' || g, g % 5 = 0, timestamptz '2025-03-01 09:00+00' + g * interval '1 hour', g % 3 + 1 "
                "from generate_series(1, 20) g"
            )
        )
        await conn.execute(text("insert into task (title, created_at) values ('Loose end', '2025-03-01 09:00+00')"))

    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = exercise.module("database").get_engine().sync_engine  # the engine the app's sessions use
    event.listen(engine, "before_cursor_execute", count)
    transport = httpx.ASGITransport(app=exercise.module("main").app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/dashboard/tasks")
    event.remove(engine, "before_cursor_execute", count)

    assert response.status_code == 200
    body = response.json()
    assert [t["title"] for t in body] == [f"Task {g}" for g in range(20, 0, -1)] + ["Loose end"]
    names = ["Work", "Home", "Garden"]
    assert [t["category_name"] for t in body] == [names[g % 3] for g in range(20, 0, -1)] + [None]
    assert [t["completed"] for t in body] == [g % 5 == 0 for g in range(20, 0, -1)] + [False]
    assert len(statements) <= 2, f"{len(statements)} SQL statements:\n" + "\n".join(statements)
