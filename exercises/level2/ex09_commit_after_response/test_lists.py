"""Visible tests: run them with `pytest exercises/level2/ex09_commit_after_response`."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata.exercise import Exercise

RESPONSE_TIMING = "Find out when the code after `yield` in get_session runs, compared with sending the response."


@pytest.fixture
async def api(exercise: Exercise, admin: AsyncEngine) -> Exercise:
    async with admin.begin() as conn:
        await conn.execute(text("insert into todo_list (id, name) values (1, 'groceries')"))
        await conn.execute(text("insert into task (list_id, title, position) values (1, 'milk', 1), (1, 'eggs', 2)"))
    return exercise


def committed_tasks(admin: AsyncEngine):  # type: ignore[no-untyped-def]
    """A callback: the list's committed tasks as (title, position), read from a separate connection."""

    async def read() -> list[tuple[str, int]]:
        async with admin.connect() as conn:
            rows = await conn.execute(text("select title, position from task where list_id = 1 order by position"))
            return [(title, position) for title, position in rows]

    return read


@pytest.mark.task(1)
async def test_a_created_task_is_committed_before_the_201_is_sent(api: Exercise, admin: AsyncEngine) -> None:
    res = await api.asgi_request(
        "POST", "/lists/1/tasks", json={"title": "bread", "position": 3}, at_response_start=committed_tasks(admin)
    )
    assert res.status == 201, res.body
    if ("bread", 3) not in res.at_response_start:
        dbkata.fail(
            "201 is sent before the task is committed",
            'POST /lists/1/tasks {"title": "bread", "position": 3} answered 201.',
            f"At the moment the response started, a separate connection saw: {res.at_response_start}.",
            "Expected the new task there already: a client may read it back the moment it gets 201.",
            advice=RESPONSE_TIMING,
        )


@pytest.mark.task(1)
async def test_a_task_that_cannot_be_saved_is_never_answered_with_201(api: Exercise, admin: AsyncEngine) -> None:
    res = await api.asgi_request("POST", "/lists/1/tasks", json={"title": "butter", "position": 2})
    after = await committed_tasks(admin)()
    if res.status is not None and 200 <= res.status < 300 and ("butter", 2) not in after:
        dbkata.fail(
            "the client got a success for a task that was never saved",
            'POST /lists/1/tasks {"title": "butter", "position": 2} (position 2 is taken by "eggs") '
            f"answered {res.status}.",
            f"Afterwards the list holds {after}: the COMMIT failed after the response had been sent.",
            advice=RESPONSE_TIMING,
        )


@pytest.mark.task(2)
async def test_a_taken_position_answers_409(api: Exercise, admin: AsyncEngine) -> None:
    res = await api.asgi_request("POST", "/lists/1/tasks", json={"title": "butter", "position": 1})
    if res.status != 409:
        dbkata.fail(
            "a taken position is not answered with 409",
            'POST /lists/1/tasks {"title": "butter", "position": 1} (position 1 is taken by "milk") '
            f"answered {res.status}.",
            "Expected 409 Conflict, and nothing saved.",
            advice="The unique check only runs at COMMIT: the 409 can only be decided after it.",
        )
    assert await committed_tasks(admin)() == [("milk", 1), ("eggs", 2)]


@pytest.mark.guard  # the untouched starter passes it
@pytest.mark.task(2)
async def test_swapping_two_positions_works(api: Exercise, admin: AsyncEngine) -> None:
    res = await api.asgi_request("POST", "/lists/1/swap", json={"a": 1, "b": 2})
    assert res.status == 200, res.body
    assert [(t["title"], t["position"]) for t in res.json()] == [("eggs", 1), ("milk", 2)]
    assert await committed_tasks(admin)() == [("eggs", 1), ("milk", 2)]
