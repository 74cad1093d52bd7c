"""Request and response bodies (given)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TaskIn(BaseModel):
    title: str = Field(min_length=1)
    position: int = Field(ge=1)


class SwapIn(BaseModel):
    a: int  # task ids
    b: int


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    list_id: int
    title: str
    position: int
