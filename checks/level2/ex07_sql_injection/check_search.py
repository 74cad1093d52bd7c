"""Hidden checks for level2/ex07_sql_injection: search text is data, wildcards are literal, sort is allow-listed."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata.exercise import Exercise

ALICE, BOB, CAROL = 11, 12, 13
AS_DATA = "Send the search text to PostgreSQL as data, not as part of the SQL."
WILDCARDS = "Look at what %, _ and the escape character mean inside an ILIKE pattern."
SORT = "Names of columns cannot be bind parameters; decide which ones are allowed."


@pytest.fixture
async def client(exercise: Exercise, admin: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with admin.begin() as conn:
        await conn.execute(text("insert into app_user (id, name) values (11, 'alice'), (12, 'bob'), (13, 'carol')"))
    async with exercise.client(base_url="http://tasks") as client:
        yield client


async def add_tasks(admin: AsyncEngine, owner: int, titles: list[str]) -> None:
    async with admin.begin() as conn:
        await conn.execute(
            text(
                "insert into task (owner_id, title, done, created_at) "
                "values (:owner, :title, :done, now() - make_interval(mins => :age))"
            ),
            [{"owner": owner, "title": t, "done": i % 3 == 0, "age": (i * 37) % 101} for i, t in enumerate(titles)],
        )


async def reference(admin: AsyncEngine, owner: int, q: str, sort: str = "id") -> list[dict[str, object]]:
    """What the endpoint must answer, computed without any pattern matching."""
    async with admin.connect() as conn:
        rows = await conn.execute(
            text(
                "select id, title, done from task where owner_id = :owner and strpos(lower(title), lower(:q)) > 0 "
                f"order by {sort}, id"
            ),
            {"owner": owner, "q": q},
        )
        return [dict(r) for r in rows.mappings()]


async def search(client: httpx.AsyncClient, user: int, q: str, sort: str = "id") -> httpx.Response:
    return await client.get("/tasks/search", params={"q": q, "sort": sort}, headers={"X-User-Id": str(user)})


def shown(response: httpx.Response) -> str:
    if response.status_code != 200:
        return f"HTTP {response.status_code} {response.text[:100]}"
    found = [t["title"] for t in response.json()]
    return repr(found[:6]) + (f" … ({len(found)} tasks)" if len(found) > 6 else "")


PAYLOADS = [
    "%' OR owner_id <> 0 OR title ILIKE '%",
    "' OR owner_id = 12 --",
    "' UNION SELECT id, name, true FROM app_user --",
    "'; DELETE FROM task; --",
    "x') OR ('a' = 'a",
    "' OR 1=1 OR title ILIKE '",
    "\\' OR true --",
]


@pytest.mark.task(1)
@pytest.mark.parametrize("payload", PAYLOADS)
async def test_search_text_never_runs_as_sql(client: httpx.AsyncClient, admin: AsyncEngine, payload: str) -> None:
    await add_tasks(admin, ALICE, ["Plan sprint", "Fix the ' OR 1=1 OR title ILIKE ' bug", "Review"])
    await add_tasks(admin, BOB, ["Bob's salary review", "Bob's plan"])
    before = await dbkata.snapshot(admin)
    response = await search(client, ALICE, payload)
    expected = await reference(admin, ALICE, payload)
    if response.status_code != 200 or response.json() != expected:
        dbkata.fail(
            "the search text is executed as SQL",
            f"Alice searched for {payload!r}.",
            f"Got: {shown(response)}; expected 200 with {[t['title'] for t in expected]!r} "
            "(her own tasks whose title contains exactly that text).",
            advice=AS_DATA,
        )
    dbkata.assert_unchanged(
        before,
        await dbkata.snapshot(admin),
        f"Alice searched for {payload!r}",
        title="a search changed the database",
        advice=AS_DATA,
    )


@pytest.mark.task(1)
async def test_search_text_travels_as_a_parameter(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await add_tasks(admin, ALICE, ["Call Zed O'Hara", "Quarterly zed-report"])
    for q in ("Zed O'Hara", "zed-report", "Qzx7 marker"):
        async with dbkata.statements() as log:
            response = await search(client, ALICE, q)
        inlined = [s for s in log.statements if q in s.sql]
        if inlined or response.status_code != 200:
            dbkata.fail(
                "the search text is pasted into the SQL",
                f"Alice searched for {q!r}; HTTP {response.status_code}.",
                *(
                    f"The statement sent to PostgreSQL contains it: {' '.join(s.sql.split())[:160]}"
                    for s in inlined[:1]
                ),
                "Expected: the text travels as a bind parameter, never inside the SQL string "
                "(quoting or escaping it by hand does not count).",
                advice=AS_DATA,
            )


def random_titles(rng: random.Random, n: int) -> list[str]:
    words = [
        "milk",
        "Report",
        "SQL",
        "deploy",
        "O'Neil",
        "50%",
        "a_b",
        "axb",
        "C:\\temp",
        "100 %",
        "x%y",
        "under_score",
        "underscore",
        "Back\\slash",
        "UNION",
        "--",
        "tax 5%",
        "v2_final",
        "Zed",
    ]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(1, 3))) for _ in range(n)]


async def check_queries(client: httpx.AsyncClient, admin: AsyncEngine, queries: list[str], advice: str) -> None:
    for q in queries:
        for user in (ALICE, CAROL):
            response = await search(client, user, q)
            expected = await reference(admin, user, q)
            if response.status_code != 200 or response.json() != expected:
                dbkata.fail(
                    "a search returns the wrong tasks",
                    f"User {user} searched for {q!r}.",
                    f"Got: {shown(response)}",
                    f"Expected: {[t['title'] for t in expected][:6]!r} (titles containing exactly that text, "
                    "any case, ordered by id).",
                    advice=advice,
                )


@pytest.mark.task(1)
async def test_ordinary_searches_find_exactly_the_matching_tasks(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    rng = random.Random(2607)
    for user in (ALICE, BOB, CAROL):
        await add_tasks(admin, user, random_titles(rng, 25))
    await check_queries(client, admin, ["milk", "REPORT", "deploy sql", "o'neil", "Zed", "", "union", "--"], AS_DATA)


@pytest.mark.task(2)
async def test_wildcard_characters_match_themselves(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    rng = random.Random(2608)
    for user in (ALICE, BOB, CAROL):
        await add_tasks(admin, user, random_titles(rng, 25))
    await check_queries(
        client, admin, ["%", "50%", "a_b", "_", "x%y", "under_score", "C:\\temp", "\\", "5%", "v2_"], WILDCARDS
    )


# Searches a person would not think of: short strings over the characters that mean something to
# SQL, to LIKE patterns or to their escape (with letters and digits that occur in the titles). Fixed
# seed (derandomize): every run, and so every grade, tries the same searches.
TRICKY = st.text(alphabet="ab_%\\'\" 05xyUNIO-", min_size=1, max_size=5)


@pytest.mark.task(2)
@settings(
    derandomize=True,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(q=TRICKY)
async def test_generated_searches_find_exactly_the_matching_tasks(
    client: httpx.AsyncClient, admin: AsyncEngine, q: str
) -> None:
    # Searching never writes, so every generated search shares this test's one database.
    async with admin.connect() as conn:
        seeded = (await conn.execute(text("select count(*) from task"))).scalar_one()
    if not seeded:
        rng = random.Random(2610)
        for user in (ALICE, BOB, CAROL):
            await add_tasks(admin, user, [*random_titles(rng, 25), "a\\%b_'x", "5%_0", "UNION -- x", 'q"uote'])
    await check_queries(client, admin, [q], WILDCARDS)


@pytest.mark.guard  # the untouched starter passes it
@pytest.mark.task(3)
@pytest.mark.parametrize("sort", ["id", "title", "created_at"])
async def test_allowed_sort_keys_order_the_results(client: httpx.AsyncClient, admin: AsyncEngine, sort: str) -> None:
    rng = random.Random(2609)
    await add_tasks(admin, ALICE, random_titles(rng, 30))
    response = await search(client, ALICE, "", sort=sort)
    expected = await reference(admin, ALICE, "", sort=sort)
    if response.status_code != 200 or response.json() != expected:
        dbkata.fail(
            f"sort={sort} does not order the results",
            f"GET /tasks/search?q=&sort={sort} as Alice (30 tasks).",
            f"Got: {shown(response)}; expected all 30 ordered by {sort}, then id.",
            advice=SORT,
        )


@pytest.mark.task(3)
@pytest.mark.parametrize(
    "sort",
    [
        "owner_id",
        "title DESC",
        "(SELECT 1)",
        "id; DROP TABLE task",
        "(CASE WHEN (SELECT count(*) FROM app_user) > 2 THEN title ELSE created_at::text END)",
        "ID",
        " title",
    ],
)
async def test_other_sort_keys_are_refused(client: httpx.AsyncClient, admin: AsyncEngine, sort: str) -> None:
    await add_tasks(admin, ALICE, ["Plan sprint", "Review"])
    response = await search(client, ALICE, "", sort=sort)
    if response.status_code != 422:
        dbkata.fail(
            "sort accepts a key outside the allowed list",
            f"GET /tasks/search?sort={sort!r}: sort must be exactly one of id, title, created_at.",
            f"Got: HTTP {response.status_code}; expected 422 (raise UnknownSortKey).",
            advice=SORT,
        )
