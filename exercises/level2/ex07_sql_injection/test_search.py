"""Visible tests: run them with `pytest exercises/level2/ex07_sql_injection`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata.exercise import Exercise

ALICE, BOB = 1, 2


@pytest.fixture
async def client(exercise: Exercise, admin: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with admin.begin() as conn:
        await conn.execute(text("insert into app_user (id, name) values (1, 'alice'), (2, 'bob')"))
    async with exercise.client(base_url="http://tasks") as client:
        yield client


async def add_tasks(admin: AsyncEngine, owner: int, *titles: str) -> None:
    async with admin.begin() as conn:
        await conn.execute(
            text("insert into task (owner_id, title, done) values (:owner, :title, false)"),
            [{"owner": owner, "title": t} for t in titles],
        )


async def search(client: httpx.AsyncClient, user: int, q: str, sort: str = "id") -> httpx.Response:
    return await client.get("/tasks/search", params={"q": q, "sort": sort}, headers={"X-User-Id": str(user)})


def titles(response: httpx.Response) -> list[str]:
    return [t["title"] for t in response.json()]


@pytest.mark.guard  # the untouched starter passes it
@pytest.mark.task(1)
async def test_search_finds_your_own_tasks_ignoring_case(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await add_tasks(admin, ALICE, "Buy milk", "Write report", "MILKSHAKE recipe")
    await add_tasks(admin, BOB, "Milk the cow")
    response = await search(client, ALICE, "milk")
    assert response.status_code == 200, response.text
    assert titles(response) == ["Buy milk", "MILKSHAKE recipe"]


@pytest.mark.task(1)
async def test_search_text_cannot_widen_the_query(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await add_tasks(admin, ALICE, "Buy milk")
    await add_tasks(admin, BOB, "Bob's secret plan")
    payload = "' OR 1=1 OR title ILIKE '"
    response = await search(client, ALICE, payload)
    if response.status_code != 200 or response.json() != []:
        shown = titles(response) if response.status_code == 200 else f"HTTP {response.status_code}"
        dbkata.fail(
            "the search text is executed as SQL",
            f"Alice searched for {payload!r}: no title of hers contains that text.",
            f"Got: {shown}; expected: [] (and never Bob's tasks).",
            advice="Send the search text to PostgreSQL as data, not as part of the SQL.",
        )


@pytest.mark.task(1)
async def test_a_quote_in_the_search_text_is_just_a_character(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await add_tasks(admin, ALICE, "Call O'Brien", "Call the bank")
    response = await search(client, ALICE, "o'brien")
    if response.status_code != 200 or titles(response) != ["Call O'Brien"]:
        dbkata.fail(
            "a search containing a quote fails",
            'Alice searched for "o\'brien"; her task "Call O\'Brien" contains it.',
            f'Got: HTTP {response.status_code} {response.text[:120]}; expected 200 with ["Call O\'Brien"].',
            advice="Send the search text to PostgreSQL as data, not as part of the SQL.",
        )


@pytest.mark.task(2)
async def test_percent_in_the_search_text_matches_a_percent_sign(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await add_tasks(admin, ALICE, "Reach 100% coverage", "Import 1000 rows")
    response = await search(client, ALICE, "100%")
    if response.status_code != 200 or titles(response) != ["Reach 100% coverage"]:
        got = titles(response) if response.status_code == 200 else f"HTTP {response.status_code}"
        dbkata.fail(
            "'%' in the search text acts as a wildcard",
            "Alice searched for '100%'; only \"Reach 100% coverage\" contains that text.",
            f"Got: {got}; expected: ['Reach 100% coverage'].",
            advice="Look at what % and _ mean inside an ILIKE pattern.",
        )


@pytest.mark.task(3)
async def test_sorting_by_an_unlisted_key_is_refused(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await add_tasks(admin, ALICE, "Buy milk")
    response = await search(client, ALICE, "milk", sort="owner_id")
    if response.status_code != 422:
        dbkata.fail(
            "sort accepts keys outside the allowed list",
            "GET /tasks/search?q=milk&sort=owner_id: sort must be one of id, title, created_at.",
            f"Got: HTTP {response.status_code}; expected 422 (raise UnknownSortKey).",
            advice="Names of columns cannot be bind parameters; decide which ones are allowed.",
        )
