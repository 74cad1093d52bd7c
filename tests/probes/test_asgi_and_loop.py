"""The raw ASGI driver shows the commit-after-response trap; the loop probes show a blocked event loop."""

from __future__ import annotations

from types import ModuleType

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata


async def _notes(admin: AsyncEngine) -> int:
    async with admin.connect() as conn:
        return int((await conn.execute(text("select count(*) from note"))).scalar_one())


async def test_default_scope_commits_after_the_response(apps: ModuleType, admin: AsyncEngine) -> None:
    app = apps.create_app()
    first = await dbkata.asgi_request(
        app, "POST", "/notes", json={"body": "a"}, at_response_start=lambda: _notes(admin)
    )
    assert (first.status, first.at_response_start, first.app_error) == (201, 0, None)  # sent before COMMIT
    assert await _notes(admin) == 1
    dup = await dbkata.asgi_request(app, "POST", "/notes", json={"body": "a"})
    assert dup.status == 201  # the client was told "created"...
    assert dup.app_error is not None
    assert dbkata.sqlstate_of(dup.app_error) == "23505"
    assert await _notes(admin) == 1


async def test_function_scope_commits_before_the_response(apps: ModuleType, admin: AsyncEngine) -> None:
    app = apps.create_app()
    first = await dbkata.asgi_request(
        app, "POST", "/notes/checked", json={"body": "a"}, at_response_start=lambda: _notes(admin)
    )
    assert (first.status, first.at_response_start) == (201, 1)
    dup = await dbkata.asgi_request(app, "POST", "/notes/checked", json={"body": "a"})
    assert dup.status == 500


async def test_async_queries_overlap(apps: ModuleType, admin: AsyncEngine) -> None:
    peak = await dbkata.peak_concurrency(admin, [apps.slow_report_async] * 3)
    assert peak == 3


async def test_blocking_driver_serialises_requests(apps: ModuleType, admin: AsyncEngine) -> None:
    peak = await dbkata.peak_concurrency(admin, [apps.slow_report_blocking] * 3)
    assert peak == 1
    stall = await dbkata.loop_stall(apps.slow_report_blocking)
    assert stall >= 0.25  # the loop froze for (about) the whole 0.3 s query


async def test_async_query_does_not_stall_the_loop(apps: ModuleType) -> None:
    stall = await dbkata.loop_stall(apps.slow_report_async)
    assert stall < 0.25
