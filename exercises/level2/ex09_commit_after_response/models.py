"""The Task Manager's tables: lists, and tasks with a position inside their list."""

from __future__ import annotations

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class TodoList(Base):
    __tablename__ = "todo_list"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class Task(Base):
    __tablename__ = "task"
    # Two tasks of one list never share a position. The check is DEFERRED to COMMIT so that a swap
    # can move two tasks through a moment where both hold the same position.
    __table_args__ = (
        UniqueConstraint("list_id", "position", name="one_task_per_position", deferrable=True, initially="DEFERRED"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("todo_list.id"))
    title: Mapped[str]
    position: Mapped[int]
