"""Known-bad: refresh(order), then the items and their products loaded lazily inside run_sync (awaited).

It answers 201 with the right order: the lazy load runs where it may do I/O, so nothing crashes. The
README asks for no lazy load at all, and the hidden check sees the lazy loader's query on the wire
(``WHERE $1::INTEGER = order_item.order_id``), whatever process ran it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import ProductNotFound
from .models import Order, OrderItem, Product
from .schemas import OrderItemIn


class OrderRepository:
    """Orders, inside the caller's transaction (the repository never commits)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create_order(self, customer_name: str, items: Sequence[OrderItemIn]) -> Order:
        """A new pending order with one line per item, priced at each product's current price."""
        wanted = {item.product_id for item in items}
        found = await self.session.scalars(select(Product).where(Product.id.in_(wanted)))
        products = {product.id: product for product in found}
        for item in items:
            if item.product_id not in products:
                raise ProductNotFound(item.product_id)
        order = Order(customer_name=customer_name)
        for item in items:
            product = products[item.product_id]
            order.items.append(OrderItem(product=product, quantity=item.quantity, unit_price=product.price))
        self.session.add(order)
        await self.session.flush()
        await self.session.refresh(order)
        await self.session.run_sync(lambda _: [item.product for item in order.items])
        return order
