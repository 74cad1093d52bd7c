"""Fixtures for the probe tests: the test app over a fresh database, with seeded rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import ModuleType

import httpx
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dbkata.exercise import Exercise


@pytest_asyncio.fixture
async def apps(exercise: Exercise) -> ModuleType:
    """The apps module, imported fresh against this test's database."""
    return exercise.module("apps")


@pytest_asyncio.fixture
async def client(apps: ModuleType) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=apps.create_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


async def seed_authors(admin: AsyncEngine, n: int, books_each: int = 2) -> None:
    """Make the database hold exactly ``n`` authors with ``books_each`` books each."""
    async with admin.begin() as conn:
        await conn.execute(text("truncate author, book restart identity cascade"))
        await conn.execute(text("insert into author (name) select 'a' || g from generate_series(1, :n) g"), {"n": n})
        await conn.execute(
            text(
                "insert into book (author_id, title) select a, 'b' || a || '-' || k "
                "from generate_series(1, :n) a, generate_series(1, :k) k"
            ),
            {"n": n, "k": books_each},
        )
