"""HTTP endpoints (given): the repository creates the order, the route describes it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException

from .deps import SessionDep
from .errors import ProductNotFound
from .models import Order
from .repo import OrderRepository
from .schemas import OrderIn, OrderItemOut, OrderOut

router = APIRouter()


def order_repository(session: SessionDep) -> OrderRepository:
    return OrderRepository(session)


def describe(order: Order) -> OrderOut:
    items = [
        OrderItemOut(
            id=item.id,
            product_id=item.product_id,
            product_name=item.product.name,
            quantity=item.quantity,
            unit_price=item.unit_price,
        )
        for item in order.items
    ]
    return OrderOut(
        id=order.id,
        customer_name=order.customer_name,
        status=order.status,
        created_at=order.created_at,
        items=items,
        total=sum((i.quantity * i.unit_price for i in items), start=0 * items[0].unit_price),
    )


@router.post("/orders", status_code=201, response_model=OrderOut)
async def create_order(body: OrderIn, repo: Annotated[OrderRepository, Depends(order_repository)]) -> OrderOut:
    try:
        order = await repo.create_order(body.customer_name, body.items)
    except ProductNotFound as exc:
        raise HTTPException(422, str(exc)) from exc
    return describe(order)
