"""Hidden checks for level2/ex09_commit_after_response: a 2xx is only sent for what is already committed."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata.exercise import Exercise

TIMING = "Find out when the code after `yield` in get_session runs, compared with sending the response."
CONFLICT = "The unique check only runs at COMMIT: the 409 can only be decided after it."

State = set[tuple[int, int, str, int]]  # (id, list_id, title, position)


@pytest.fixture
async def api(exercise: Exercise, admin: AsyncEngine) -> Exercise:
    async with admin.begin() as conn:
        await conn.execute(text("insert into todo_list (id, name) values (1, 'home'), (2, 'work'), (3, 'empty')"))
        await conn.execute(
            text(
                "insert into task (id, list_id, title, position) values "
                "(101, 1, 'milk', 1), (102, 1, 'eggs', 2), (103, 1, 'bread', 3), "
                "(201, 2, 'report', 1), (202, 2, 'call', 2)"
            )
        )
        await conn.execute(text("select setval(pg_get_serial_sequence('task', 'id'), 1000)"))
    return exercise


def reader(admin: AsyncEngine):  # type: ignore[no-untyped-def]
    async def state() -> State:
        async with admin.connect() as conn:
            rows = await conn.execute(text("select id, list_id, title, position from task"))
            return {(task_id, list_id, title, position) for task_id, list_id, title, position in rows}

    return state


# (method, path, body) in order; the checks derive what each answer implies from the state itself.
SCRIPT: list[tuple[str, dict[str, Any]]] = [
    ("/lists/1/tasks", {"title": "butter", "position": 4}),
    ("/lists/1/tasks", {"title": "jam", "position": 2}),  # taken
    ("/lists/3/tasks", {"title": "first", "position": 1}),
    ("/lists/1/swap", {"a": 101, "b": 103}),
    ("/lists/2/tasks", {"title": "plan", "position": 3}),
    ("/lists/2/tasks", {"title": "again", "position": 3}),  # taken by the request before
    ("/lists/99/tasks", {"title": "nowhere", "position": 1}),  # no such list
    ("/lists/2/swap", {"a": 201, "b": 101}),  # tasks of two lists
    ("/lists/3/tasks", {"title": "second", "position": 1}),  # taken
    ("/lists/2/swap", {"a": 202, "b": 201}),
    ("/lists/1/tasks", {"title": "tea", "position": 5}),
]


def effect_seen(path: str, body: dict[str, Any], state: State, answer: Any) -> bool:
    """Whether ``state`` already shows what a 2xx answer to this request claims (the ids it names included)."""
    list_id = int(path.split("/")[2])
    if path.endswith("/tasks"):
        return (answer.get("id"), list_id, body["title"], body["position"]) in state
    claimed = {(t["id"], t["list_id"], t["title"], t["position"]) for t in answer}
    return claimed <= state


@pytest.mark.task(1)
async def test_every_success_is_committed_when_it_is_sent(api: Exercise, admin: AsyncEngine) -> None:
    state = reader(admin)
    for path, body in SCRIPT:
        before = await state()
        res = await api.asgi_request("POST", path, json=body, at_response_start=state)
        after = await state()
        call = f"POST {path} {json.dumps(body)}"
        if res.status is None:
            dbkata.fail(
                "a request got no response", f"{call}: the app sent nothing ({res.app_error!r}).", advice=TIMING
            )
        if 200 <= res.status < 300:
            if not effect_seen(path, body, res.at_response_start, res.json()):
                dbkata.fail(
                    "a success was sent before it was committed",
                    f"{call} answered {res.status}.",
                    "When the response started, a separate connection did not see the change yet"
                    + (
                        "; it never appeared: the COMMIT failed after the answer."
                        if not effect_seen(path, body, after, res.json())
                        else "; it appeared only afterwards."
                    ),
                    "Expected: every 2xx answer describes data that is already committed.",
                    advice=TIMING,
                )
            if after != res.at_response_start:
                dbkata.fail(
                    "data changed after a success was sent",
                    f"{call} answered {res.status}.",
                    "Between the moment the response started and the end of the request, rows changed: "
                    f"added {sorted(after - res.at_response_start)}, removed {sorted(res.at_response_start - after)}.",
                    "Expected: what the client was told is what is committed when the response starts; "
                    "nothing changes after it.",
                    advice=TIMING,
                )
        elif after != before:
            dbkata.fail(
                "a failed request changed data",
                f"{call} answered {res.status}, but rows changed:",
                f"added {sorted(after - before)}, removed {sorted(before - after)}.",
                "Expected: an error answer leaves everything as it was.",
                advice=TIMING,
            )


@pytest.mark.task(2)
@pytest.mark.parametrize(("list_id", "position", "status"), [(1, 1, 409), (1, 3, 409), (2, 2, 409)])
async def test_a_taken_position_answers_409_and_saves_nothing(
    api: Exercise, admin: AsyncEngine, list_id: int, position: int, status: int
) -> None:
    await judge_one_create(api, admin, list_id, position, status)


@pytest.mark.guard  # the untouched starter passes it
@pytest.mark.task(2)
@pytest.mark.parametrize(("list_id", "position", "status"), [(2, 3, 201), (3, 1, 201)])
async def test_a_position_free_in_its_list_answers_201(
    api: Exercise, admin: AsyncEngine, list_id: int, position: int, status: int
) -> None:
    await judge_one_create(api, admin, list_id, position, status)


async def judge_one_create(api: Exercise, admin: AsyncEngine, list_id: int, position: int, status: int) -> None:
    __tracebackhide__ = True
    before = await dbkata.snapshot(admin, "task")
    body = {"title": "newcomer", "position": position}
    res = await api.asgi_request("POST", f"/lists/{list_id}/tasks", json=body)
    call = f"POST /lists/{list_id}/tasks {json.dumps(body)}"
    taken = "taken" if status == 409 else "free"
    if res.status != status:
        dbkata.fail(
            "a new task's position is judged wrongly",
            f"{call} (position {position} is {taken} in list {list_id}) answered {res.status}.",
            f"Expected {status}.",
            advice=CONFLICT,
        )
    if status == 409:
        dbkata.assert_unchanged(before, await dbkata.snapshot(admin, "task"), f"{call} answered 409", advice=CONFLICT)


@pytest.mark.guard  # the untouched starter passes it
@pytest.mark.task(2)
async def test_swaps_keep_working(api: Exercise, admin: AsyncEngine) -> None:
    state = reader(admin)
    for a, b in ((101, 103), (102, 101), (103, 102)):
        res = await api.asgi_request("POST", "/lists/1/swap", json={"a": a, "b": b})
        if res.status != 200:
            dbkata.fail(
                "swapping two positions fails",
                f'POST /lists/1/swap {{"a": {a}, "b": {b}}} answered {res.status}.',
                "Expected 200: the constraint is deferred precisely so that swaps work.",
                advice="Make the conflict visible for new tasks without checking every statement immediately.",
            )
    final = sorted((p, t) for _, lid, t, p in await state() if lid == 1)
    if final != [(1, "eggs"), (2, "milk"), (3, "bread")]:
        dbkata.fail(
            "swaps did not move the tasks",
            "Swapped 101↔103, 102↔101, 103↔102 in list 1 (milk 1, eggs 2, bread 3).",
            f"Afterwards (position, title): {final}; expected [(1, 'eggs'), (2, 'milk'), (3, 'bread')].",
            advice=TIMING,
        )


async def no_waiting_in_the_app(api: Exercise, admin: AsyncEngine) -> None:
    """A create in list 2 is answered while one in list 1 waits for its list's row (held by the harness).

    Decided by order (a stuck run ends once nothing moves for 5 s), before the race: code that lets one
    create in at a time would otherwise keep the race's second request away from the gate, and pass it.
    """
    held_up = {"title": "held", "position": 9}
    other = {"title": "other", "position": 9}
    seen = await dbkata.answered_while_held(
        admin,
        "select id from todo_list where id = 1 for update",
        partial(api.asgi_request, "POST", "/lists/1/tasks", json=held_up),
        partial(api.asgi_request, "POST", "/lists/2/tasks", json=other),
    )
    answer = seen.other.status if seen.other is not None else None
    what = seen.why_not("the create in list 1", "the create in list 2")
    if what or answer != 201:
        what = what or f"The create in list 2 answered {answer}."
        dbkata.fail(
            "a create waits for another one in the app",
            f"While POST /lists/1/tasks {json.dumps(held_up)} waited for list 1's row (locked by the harness), "
            f"POST /lists/2/tasks {json.dumps(other)} was sent. {what}",
            "Expected a 201 at once: creates in different lists do not wait for each other, and a lock inside "
            "the app protects nothing once the app runs as several processes.",
            advice=CONFLICT,
        )


@pytest.mark.task(2)
@pytest.mark.parametrize(("list_id", "position"), [(1, 4), (3, 1)])
async def test_two_creates_of_one_position_at_once(
    api: Exercise, admin: AsyncEngine, list_id: int, position: int
) -> None:
    await no_waiting_in_the_app(api, admin)
    # race(): a gate in PostgreSQL holds every INSERT into task until both requests got that far, so a
    # check made before the INSERT ("is the position free?") passes for both.
    bodies = [{"title": "left", "position": position}, {"title": "right", "position": position}]
    path = f"/lists/{list_id}/tasks"
    # each create at a process of the app of its own, as when it runs as several workers: only what the
    # processes share, the database, can keep them apart
    async with api.processes(2) as workers:
        outcomes = await dbkata.race(
            admin,
            [partial(w.asgi_request, "POST", path, json=b) for w, b in zip(workers, bodies, strict=True)],
            gate=("task", "INSERT"),
        )
    call = (
        f"two POST {path} at the same moment, {json.dumps(bodies[0])} and {json.dumps(bodies[1])}, each to a "
        "process of the app of its own"
    )
    if not outcomes.all_arrived:
        dbkata.fail(
            "two creates at once never meet in the database",
            f"{call}: while one waited at the harness's gate before its INSERT, the other never reached the "
            "database (nothing moved on the server for 5 s).",
            "Expected both to reach the database at once: only the database can decide which one wins. "
            "Something outside the database kept them apart (a file lock, a queue), which protects nothing "
            "once the app runs on several machines.",
            advice=CONFLICT,
        )
    if any(o.error is not None for o in outcomes):
        dbkata.fail(
            "two creates at once break a request",
            f"{call}: {'; '.join(o.describe() for o in outcomes)}.",
            advice=CONFLICT,
        )
    results = [o.value for o in outcomes]
    statuses = [r.status for r in results]
    saved = sorted(t for _, lid, t, p in await reader(admin)() if (lid, p) == (list_id, position))
    winners = [b["title"] for b, r in zip(bodies, results, strict=True) if r.status == 201]
    if sorted(statuses) != [201, 409] or saved != winners:
        dbkata.fail(
            "two creates of one position at once are judged wrongly",
            f"{call} (position {position} was free in list {list_id}) answered {statuses}.",
            f"Afterwards the list held {saved or 'no task'} at position {position}.",
            "Expected one 201 and one 409, and only the 201's task saved: the database decides which "
            "one wins, at COMMIT, and the loser must still get its 409.",
            advice=CONFLICT,
        )
