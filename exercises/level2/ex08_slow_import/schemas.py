"""Request and response bodies (given)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class TaskRow(BaseModel):
    """One row of the CSV export, already parsed."""

    title: str = Field(min_length=1)
    description: str = ""
    category_id: int
    priority: int = Field(default=3, ge=1, le=5)
    due_date: date | None = None
    estimate_minutes: int | None = Field(default=None, ge=0)


class ImportResult(BaseModel):
    imported: int
