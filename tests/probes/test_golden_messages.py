"""Golden tests: the exact student-facing text of each probe's failure (conventions §3).

Regenerate after an intended wording change with ``DBKATA_UPDATE_GOLDEN=1 pytest tests/probes``,
then read the diff: these files are what students see.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata import feedback
from tests.probes.conftest import seed_authors

GOLDEN = Path(__file__).parents[1] / "golden"


@pytest.fixture(autouse=True)
def exercise_context() -> Iterator[None]:
    """Messages as a student of level2/ex03_unit_of_work, task 2, would see them."""
    feedback.set_current(feedback.CheckContext("level2/ex03_unit_of_work", 2))
    yield
    feedback.set_current(feedback.CheckContext())


async def _message(action: Callable[[], Awaitable[object] | None]) -> str:
    try:
        result = action()
        if result is not None:
            await result
    except pytest.fail.Exception as failure:
        return str(failure)
    raise AssertionError("the probe did not fail")


def _compare(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("DBKATA_UPDATE_GOLDEN") == "1":
        path.write_text(text + "\n")
    assert text + "\n" == path.read_text(), f"message differs from {path}"


async def test_statement_budget_message(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await seed_authors(admin, 4)
    with dbkata.statements() as log:
        await client.get("/authors/lazy")
    _compare("statement_budget", await _message(lambda: log.assert_at_most(2, what="GET /authors/lazy")))


async def test_statements_constant_message(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    text = await _message(
        lambda: dbkata.assert_statements_constant(
            lambda n: seed_authors(admin, n),
            lambda: client.get("/authors/lazy"),
            sizes=(3, 9),
            what="GET /authors/lazy",
            noun="authors",
        )
    )
    _compare("statements_constant", text)


async def test_leak_message(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await seed_authors(admin, 1)
    async with dbkata.connections(admin) as probe:
        for _ in range(2):
            await client.get("/books/7/leaky")
    _compare("leak", await _message(lambda: probe.assert_no_leaks(what="2 requests to GET /books/7/leaky (404)")))


async def test_atomicity_message(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    await seed_authors(admin, 1)
    before = await dbkata.snapshot(admin, "book")
    async with dbkata.fail_nth(admin, table="book", nth=2):
        await client.post("/books/commit-each", json=["x1", "x2"])
    after = await dbkata.snapshot(admin, "book")
    text = await _message(
        lambda: dbkata.assert_unchanged(
            before,
            after,
            what="Called POST /books/commit-each with 2 titles; the 2nd INSERT failed",
            title="POST /books/commit-each is not atomic",
        )
    )
    _compare("atomicity", text)
