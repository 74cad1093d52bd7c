"""Hidden checks for level2/ex10_refresh_collection: the order comes back whole, nothing loads lazily."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata.exercise import Exercise

ADVICE = "Look at what refresh() does to a collection that was already loaded."
PRODUCTS = 60


@pytest.fixture
async def client(exercise: Exercise, admin: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    rng = random.Random(10)
    async with admin.begin() as conn:
        await conn.execute(
            text("insert into product (id, name, price, stock) values (:id, :name, :price, 100)"),
            [
                {
                    "id": i,
                    "name": f"Product {i} {rng.choice(['red', 'blue', 'large'])}",
                    "price": Decimal(rng.randint(1, 99999)) / 100,
                }
                for i in range(1, PRODUCTS + 1)
            ],
        )
    async with exercise.client(base_url="http://shop") as client:
        yield client


def order_body(n: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    ids = rng.sample(range(1, PRODUCTS + 1), n)
    return {
        "customer_name": f"Customer {seed}",
        "items": [{"product_id": i, "quantity": rng.randint(1, 9)} for i in ids],
    }


async def reference(admin: AsyncEngine, order_id: int) -> dict[str, Any]:
    """The order as committed, described the way the endpoint must describe it."""
    async with admin.connect() as conn:
        head = (
            (await conn.execute(text("select id, customer_name, status from orders where id = :id"), {"id": order_id}))
            .mappings()
            .one_or_none()
        )
        rows = (
            (
                await conn.execute(
                    text(
                        "select i.id, i.product_id, p.name as product_name, i.quantity, "
                        "i.unit_price::text as unit_price from order_item i join product p on p.id = i.product_id "
                        "where i.order_id = :id order by i.id"
                    ),
                    {"id": order_id},
                )
            )
            .mappings()
            .all()
        )
    if head is None:
        return {}
    items = [dict(r) for r in rows]
    total = sum((Decimal(i["unit_price"]) * i["quantity"] for i in items), Decimal("0.00"))
    return {**dict(head), "items": items, "total": str(total)}


def comparable(answer: dict[str, Any]) -> dict[str, Any]:
    items = sorted(
        (
            {k: i[k] for k in ("id", "product_id", "product_name", "quantity", "unit_price")}
            for i in answer.get("items", [])
        ),
        key=lambda i: i["id"],
    )
    return {
        "id": answer.get("id"),
        "customer_name": answer.get("customer_name"),
        "status": answer.get("status"),
        "items": items,
        "total": answer.get("total"),
    }


@pytest.mark.task(1)
@pytest.mark.parametrize("n", [1, 3, 12])
async def test_the_new_order_is_described_completely_without_lazy_loads(
    client: httpx.AsyncClient, admin: AsyncEngine, n: int
) -> None:
    body = order_body(n, seed=n)
    async with dbkata.statements() as log:
        response = await client.post("/orders", json=body)
    call = f"POST /orders with {n} item(s)"
    lazy = ", ".join(f"{attr} ×{k}" for attr, k in log.lazy_loads.items())
    if response.status_code != 201:
        dbkata.fail(
            "creating an order fails",
            f"{call} answered {response.status_code} {response.text[:100]}.",
            f"Lazy loads attempted during the request: {lazy or 'none recorded'}.",
            "Expected 201 with the order and its items.",
            advice=ADVICE,
        )
    if log.lazy_loads:
        dbkata.fail(
            "the order's data is loaded lazily",
            f"{call} answered 201, but loaded lazily: {lazy}.",
            "Expected no lazy load at all (not even an awaited one): everything the response needs is "
            "already in memory or loaded eagerly.",
            advice=ADVICE,
        )
    answer = response.json()
    expected = await reference(admin, answer.get("id", -1))
    if comparable(answer) != expected:
        dbkata.fail(
            "the answer does not describe the order that was saved",
            f"{call} answered 201 with:",
            json.dumps(comparable(answer))[:400],
            "The order as committed (read from a separate connection):",
            json.dumps(expected)[:400],
            advice="Each item: its product's name and current price; the total is Σ quantity × unit price.",
        )


@pytest.mark.task(2)
async def test_statements_do_not_grow_with_the_number_of_items(client: httpx.AsyncClient) -> None:
    body: dict[str, Any] = {}

    async def prepare(n: int) -> None:
        body.clear()
        body.update(order_body(n, seed=100 + n))

    async def post() -> None:
        response = await client.post("/orders", json=body)
        if response.status_code != 201:
            dbkata.fail(
                "creating an order fails",
                f"POST /orders with {len(body['items'])} items answered {response.status_code}.",
                "Expected 201.",
                advice=ADVICE,
            )

    await dbkata.assert_statements_constant(
        prepare,
        post,
        sizes=(2, 40),
        what="POST /orders",
        noun="items",
        advice="Look the products up together, in one query.",
    )


@pytest.mark.guard  # the untouched starter passes it
@pytest.mark.task(2)
@pytest.mark.parametrize("position", [0, 4])
async def test_an_unknown_product_saves_nothing(client: httpx.AsyncClient, admin: AsyncEngine, position: int) -> None:
    body = order_body(5, seed=position)
    body["items"][position]["product_id"] = 900 + position
    before = await dbkata.snapshot(admin, "orders", "order_item", "product")
    response = await client.post("/orders", json=body)
    call = f"POST /orders whose item {position} names product {900 + position}, which does not exist"
    if response.status_code != 422:
        dbkata.fail(
            "an unknown product is not refused",
            f"{call} answered {response.status_code}.",
            "Expected 422 (ProductNotFound).",
            advice="Check every product before creating anything.",
        )
    dbkata.assert_unchanged(
        before, await dbkata.snapshot(admin, "orders", "order_item", "product"), f"{call} answered 422"
    )
