"""Known-bad: one INSERT per row sent on the raw asyncpg connection, behind SQLAlchemy's back.

The categories are checked in one query and the rows go in the caller's transaction, so the result
and the atomicity are right; SQLAlchemy's events see none of the per-row round trips. The harness's
wire relay counts them like any other.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import UnknownCategory
from .models import Category
from .schemas import TaskRow

INSERT = (
    "insert into task (title, description, category_id, priority, due_date, estimate_minutes) "
    "values ($1, $2, $3, $4, $5, $6)"
)


async def import_tasks(session: AsyncSession, rows: Sequence[TaskRow]) -> int:
    known = set(await session.scalars(select(Category.id).where(Category.id.in_({r.category_id for r in rows}))))
    for index, row in enumerate(rows):
        if row.category_id not in known:
            raise UnknownCategory(index, row.category_id)
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection  # the asyncpg connection itself
    for row in rows:  # BUG: one round trip per row, invisible to SQLAlchemy's events
        await driver.execute(
            INSERT, row.title, row.description, row.category_id, row.priority, row.due_date, row.estimate_minutes
        )
    return len(rows)
