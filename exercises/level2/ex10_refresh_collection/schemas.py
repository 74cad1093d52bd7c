"""Request and response bodies (given)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field


class OrderItemIn(BaseModel):
    product_id: int
    quantity: int = Field(gt=0)


class OrderIn(BaseModel):
    customer_name: str = Field(min_length=1)
    items: list[OrderItemIn] = Field(min_length=1)


class OrderItemOut(BaseModel):
    id: int
    product_id: int
    product_name: str
    quantity: int
    unit_price: Decimal


class OrderOut(BaseModel):
    id: int
    customer_name: str
    status: str
    created_at: datetime
    items: list[OrderItemOut]
    total: Decimal
