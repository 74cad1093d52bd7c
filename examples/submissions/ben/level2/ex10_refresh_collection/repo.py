"""Known-bad: no refresh any more, but one product lookup per item (the seed spec's wording, taken literally)."""

from __future__ import annotations

from collections.abc import Sequence

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
        products: dict[int, Product] = {}
        for item in items:
            product = await self.session.get(Product, item.product_id)
            if product is None:
                raise ProductNotFound(item.product_id)
            products[item.product_id] = product
        order = Order(customer_name=customer_name)
        for item in items:
            product = products[item.product_id]
            order.items.append(OrderItem(product=product, quantity=item.quantity, unit_price=product.price))
        self.session.add(order)
        # flush() already brings back the ids and the server defaults (status, created_at) via RETURNING;
        # a refresh(order) here would expire order.items, and reading them again would need lazy I/O
        await self.session.flush()
        return order  # items and their products are still the objects built above: nothing left to load
