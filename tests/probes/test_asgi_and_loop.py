"""The raw ASGI driver shows the commit-after-response trap; the loop probes show a blocked event loop."""

from __future__ import annotations

import asyncio
from types import ModuleType

import pytest
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


async def _accounts(admin: AsyncEngine) -> None:
    async with admin.begin() as conn:
        await conn.execute(text("insert into account (id, balance) values (1, 100), (2, 100)"))


@pytest.mark.parametrize(("variant", "answered"), [("withdraw_atomic", True), ("withdraw_blocking", False)])
async def test_a_read_is_answered_while_a_write_waits_unless_the_loop_is_blocked(
    apps: ModuleType, admin: AsyncEngine, variant: str, answered: bool
) -> None:
    await _accounts(admin)
    seen = await dbkata.answered_while_held(
        admin,
        "select id from account where id = 1 for update",
        lambda: getattr(apps, variant)(1, 10),
        lambda: apps.balance_of(2),
        settle=1.0,  # nothing moves for 1 s: stuck (only how soon a stuck run ends, never the verdict)
    )
    assert (seen.waited, seen.answered, seen.other, seen.errors) == (True, answered, 100, [])


async def test_extra_sessions_waiting_on_the_lock_do_not_answer_a_request(apps: ModuleType, admin: AsyncEngine) -> None:
    """An app lock serialises the two calls; a session the code adds to the waiters changes nothing."""
    await _accounts(admin)

    async def held_up() -> None:
        extra = asyncio.ensure_future(apps.withdraw_atomic(1, 1))  # a second waiter on the same row
        await apps.withdraw_one_at_a_time(1, 10)
        await extra

    seen = await dbkata.answered_while_held(
        admin,
        "select id from account where id = 1 for update",
        held_up,
        lambda: apps.withdraw_one_at_a_time(2, 10),
        settle=1.0,
    )
    assert (seen.waited, seen.answered, seen.errors) == (True, False, [])


async def test_a_call_that_never_waits_is_told_apart(apps: ModuleType, admin: AsyncEngine) -> None:
    await _accounts(admin)
    seen = await dbkata.answered_while_held(
        admin, "select id from account where id = 1 for update", lambda: apps.balance_of(1), lambda: apps.balance_of(2)
    )
    assert (seen.waited, seen.held_up, seen.other) == (False, 100, 100)
