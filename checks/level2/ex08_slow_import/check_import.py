"""Hidden checks for level2/ex08_slow_import: round trips bounded by 3 + N/1000, exact rows, all or nothing."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata.exercise import Exercise

BULK = "Look for SQL that runs once per row; send the rows (and the category check) in bulk."
ATOMIC = "Keep the whole import in the request's one transaction: no commit of your own."
COLUMNS = ("title", "description", "category_id", "priority", "due_date", "estimate_minutes")


@pytest.fixture
async def client(exercise: Exercise) -> AsyncIterator[httpx.AsyncClient]:
    async with exercise.client(base_url="http://tasks", timeout=120) as client:
        yield client


async def add_categories(admin: AsyncEngine, n: int) -> None:
    async with admin.begin() as conn:
        await conn.execute(
            text("insert into category (id, name) select g, 'category ' || g from generate_series(1, :n) g"), {"n": n}
        )


def random_rows(n: int, categories: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    words = ["Fix", "deploy", "Review", "naïve café", "O'Brien's", "tab\there", "50% off", "ünïcode ✓", "--", ""]
    return [
        {
            "title": f"{rng.choice(words[:-1])} #{i}",
            "description": " ".join(rng.choice(words) for _ in range(rng.randint(0, 4))),
            "category_id": rng.randint(1, categories),
            "priority": rng.randint(1, 5),
            "due_date": None
            if rng.random() < 0.4
            else f"20{rng.randint(26, 40)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "estimate_minutes": None if rng.random() < 0.3 else rng.randint(0, 5000),
        }
        for i in range(n)
    ]


async def saved(admin: AsyncEngine) -> Counter[tuple[Any, ...]]:
    async with admin.connect() as conn:
        rows = await conn.execute(
            text("select title, description, category_id, priority, due_date::text, estimate_minutes from task")
        )
        return Counter(tuple(r) for r in rows)


def expected(rows: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(r[c] for c in COLUMNS) for r in rows)


async def check_saved_exactly(admin: AsyncEngine, rows: list[dict[str, Any]], what: str) -> None:
    got, want = await saved(admin), expected(rows)
    if got != want:
        missing, extra = want - got, got - want
        dbkata.fail(
            "the imported rows are not exactly the rows sent",
            f"{what}; afterwards table task holds {sum(got.values())} row(s), read from a separate connection.",
            f"{sum(missing.values())} row(s) sent are missing or differ, e.g. {next(iter(missing), None)};",
            f"{sum(extra.values())} row(s) saved were not sent, e.g. {next(iter(extra), None)}.",
            advice="Every row, every column, exactly once: check how the rows are cut into batches.",
        )


@pytest.mark.task(1)
@pytest.mark.parametrize("n", [30, 2500])
async def test_round_trips_grow_by_at_most_one_per_thousand_rows(
    client: httpx.AsyncClient, admin: AsyncEngine, n: int
) -> None:
    await add_categories(admin, max(2, n // 2))
    rows = random_rows(n, max(2, n // 2), seed=n)
    async with dbkata.statements() as log:
        response = await client.post("/tasks/import", json=rows)
    if response.status_code != 201:
        dbkata.fail(
            "a valid import failed",
            f"POST /tasks/import with {n} valid rows answered {response.status_code}: {response.text[:200]}",
            "Expected 201.",
            advice=BULK,
        )
    bound = 3 + math.ceil(n / 1000)
    log.assert_round_trips_at_most(bound, what=f"POST /tasks/import with {n} rows ({n // 2} categories)", advice=BULK)
    await check_saved_exactly(admin, rows, f"POST /tasks/import with {n} rows answered 201")


@pytest.mark.guard  # the untouched starter passes it
@pytest.mark.task(1)
async def test_values_arrive_exactly(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await add_categories(admin, 40)
    rows = random_rows(1500, 40, seed=808)
    rows += [dict(rows[7]), dict(rows[7])]  # duplicates in the file are imported as separate tasks
    response = await client.post("/tasks/import", json=rows)
    if response.status_code != 201 or response.json() != {"imported": len(rows)}:
        dbkata.fail(
            "a valid import did not report its rows",
            f"POST /tasks/import with {len(rows)} rows answered {response.status_code}: {response.text[:200]}",
            f'Expected 201 {{"imported": {len(rows)}}}.',
            advice=BULK,
        )
    await check_saved_exactly(admin, rows, f"POST /tasks/import with {len(rows)} rows answered 201")


@pytest.mark.task(1)
async def test_a_large_file_imports_in_one_request(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await add_categories(admin, 300)
    rows = random_rows(6000, 300, seed=6000)
    async with dbkata.statements() as log:
        response = await client.post("/tasks/import", json=rows)
    if response.status_code != 201:
        dbkata.fail(
            "a large import failed",
            f"POST /tasks/import with {len(rows)} valid rows (6 columns each) "
            f"answered {response.status_code}: {response.text[:200]}",
            "Expected 201. One statement can carry at most 32,767 parameters with asyncpg.",
            advice="Let SQLAlchemy batch the rows (executemany / insertmanyvalues) instead of building "
            "one giant VALUES list.",
        )
    log.assert_round_trips_at_most(3 + 6, what=f"POST /tasks/import with {len(rows)} rows", advice=BULK)
    await check_saved_exactly(admin, rows, f"POST /tasks/import with {len(rows)} rows answered 201")


@pytest.mark.guard  # the untouched starter passes it
@pytest.mark.task(1)
@pytest.mark.parametrize("position", [0, 777, 1199])
async def test_an_unknown_category_rejects_everything(
    client: httpx.AsyncClient, admin: AsyncEngine, position: int
) -> None:
    await add_categories(admin, 50)
    rows = random_rows(1200, 50, seed=position)
    rows[position]["category_id"] = 9000 + position
    if position < 1199:
        # a later bad row naming a smaller missing id: the message must name the first row, not the smallest id
        rows[-1]["category_id"] = 5000 + position
    before = await dbkata.snapshot(admin, "task", "category")
    response = await client.post("/tasks/import", json=rows)
    call = f"POST /tasks/import with 1200 rows, row {position} naming a category that does not exist"
    detail = (
        response.json().get("detail", "")
        if response.headers.get("content-type") == "application/json"
        else response.text
    )
    if response.status_code != 422 or f"row {position}:" not in str(detail):
        dbkata.fail(
            "an unknown category is not reported",
            f"{call} answered {response.status_code} {detail!r}.",
            f"Expected 422 from UnknownCategory({position}, {9000 + position}): the first offending row"
            + (f" (row 1199 names the smaller missing id {5000 + position})." if position < 1199 else "."),
            advice="Check every row's category before writing anything, and report the first bad row.",
        )
    dbkata.assert_unchanged(
        before, await dbkata.snapshot(admin, "task", "category"), f"{call} answered 422", advice=ATOMIC
    )


@pytest.mark.guard  # the untouched starter passes it
@pytest.mark.task(1)
async def test_a_row_the_database_rejects_rejects_everything(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await add_categories(admin, 100)
    rows = random_rows(2500, 100, seed=1700)
    before = await dbkata.snapshot(admin, "task")
    async with dbkata.fail_nth(admin, table="task", nth=1700) as injected:
        response = await client.post("/tasks/import", json=rows)
    call = "POST /tasks/import with 2500 rows, where the database rejects the 1700th row inserted"
    if injected.fired and response.status_code < 400:
        dbkata.fail(
            "a failed import answered success",
            f"{call} answered {response.status_code}.",
            "Expected an error status: the import did not happen.",
            advice=ATOMIC,
        )
    dbkata.assert_unchanged(
        before, await dbkata.snapshot(admin, "task"), f"{call} answered {response.status_code}", advice=ATOMIC
    )
