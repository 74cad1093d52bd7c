"""Response bodies (given)."""

from __future__ import annotations

from pydantic import BaseModel


class TaskOut(BaseModel):
    id: int
    title: str
    done: bool
