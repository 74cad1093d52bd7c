"""The Task Manager's table (given: you do not need to edit this file)."""

from __future__ import annotations

from sqlalchemy import String, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Task(Base):
    __tablename__ = "task"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100), unique=True)
    done: Mapped[bool] = mapped_column(default=False, server_default=false())
