"""Visible tests: run them with `pytest exercises/level2/ex10_refresh_collection`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata.exercise import Exercise

ADVICE = "Look at what refresh() does to a collection that was already loaded."


@pytest.fixture
async def client(exercise: Exercise, admin: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with admin.begin() as conn:
        await conn.execute(
            text(
                "insert into product (id, name, price, stock) values "
                "(1, 'Widget', 9.99, 100), (2, 'Gadget', 24.50, 50), (3, 'Gizmo', 3.00, 10)"
            )
        )
    async with exercise.client(base_url="http://shop") as client:
        yield client


@pytest.mark.task(1)
async def test_a_new_order_comes_back_with_its_items(client: httpx.AsyncClient) -> None:
    body = {"customer_name": "Alice", "items": [{"product_id": 1, "quantity": 2}, {"product_id": 2, "quantity": 1}]}
    async with dbkata.statements() as log:
        response = await client.post("/orders", json=body)
    if response.status_code != 201:
        lazy = ", ".join(f"{attr} ×{n}" for attr, n in log.lazy_loads.items()) or "none recorded"
        dbkata.fail(
            "creating an order fails",
            f"POST /orders {json.dumps(body)} answered {response.status_code} {response.text[:80]}.",
            f"Lazy loads attempted during the request: {lazy}.",
            "Expected 201 with the order and its items.",
            advice=ADVICE,
        )
    order = response.json()
    lines = sorted((i["product_name"], i["quantity"], i["unit_price"]) for i in order["items"])
    assert lines == [("Gadget", 1, "24.50"), ("Widget", 2, "9.99")]
    assert (order["status"], order["total"]) == ("pending", "44.48")


@pytest.mark.task(1)
async def test_building_the_response_loads_nothing_lazily(client: httpx.AsyncClient, exercise: Exercise) -> None:
    # A lazy load cannot happen in async code: SQLAlchemy raises MissingGreenlet and the app answers 500.
    body = {"customer_name": "Bob", "items": [{"product_id": 3, "quantity": 4}]}
    async with dbkata.statements() as log:
        response = await client.post("/orders", json=body)
    if response.status_code == 201 and log.lazy_loads:  # an awaited lazy load answers 201, and is one all the same
        lazy = ", ".join(f"{a} ×{n}" for a, n in log.lazy_loads.items())
        dbkata.fail(
            "the order's data is loaded lazily",
            f"POST /orders {json.dumps(body)} answered 201, but loaded lazily: {lazy}.",
            "Expected no lazy load at all (not even an awaited one): everything the response needs is already "
            "in memory or loaded eagerly when create_order returns.",
            advice=ADVICE,
        )
    if response.status_code != 201:
        raised = [e.headline() for e in exercise.app_errors] or ["nothing"]
        lazy = ", ".join(f"{a} ×{n}" for a, n in log.lazy_loads.items())
        dbkata.fail(
            "the order's data is loaded lazily" if "MissingGreenlet" in raised[0] else "creating an order fails",
            f"POST /orders {json.dumps(body)} answered {response.status_code}; the code raised {raised[0]}.",
            *([f"Lazy loads attempted: {lazy}."] if lazy else []),
            "Expected 201: everything the response needs is already loaded when create_order returns.",
            advice=ADVICE,
        )


@pytest.mark.guard  # the untouched starter passes it
@pytest.mark.task(2)
async def test_an_unknown_product_is_refused(client: httpx.AsyncClient, admin: AsyncEngine) -> None:
    body = {"customer_name": "Carol", "items": [{"product_id": 1, "quantity": 1}, {"product_id": 77, "quantity": 1}]}
    response = await client.post("/orders", json=body)
    assert response.status_code == 422, response.text
    async with admin.connect() as conn:
        assert (await conn.execute(text("select count(*) from orders"))).scalar_one() == 0
