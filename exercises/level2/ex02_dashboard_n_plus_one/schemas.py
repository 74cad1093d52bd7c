"""What the dashboard sends back (given)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class TaskWithCategoryResponse(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    completed: bool
    created_at: datetime
    category_name: str | None
