"""The puzzle (given, read-only): one session writes a task; two other connections count the tasks.

Read it, predict, write your predictions in answers.toml. The checks run ``main()`` on an empty
database. ``other`` uses PostgreSQL's default isolation level, READ COMMITTED; ``snapshot`` uses
REPEATABLE READ. Both keep one transaction open from their first query to the end.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker

from .models import Task


async def count(conn: AsyncConnection) -> int:
    """How many tasks this connection sees."""
    return int((await conn.execute(text("select count(*) from task"))).scalar_one())


async def main(engine: AsyncEngine) -> None:
    session_factory = async_sessionmaker(engine, expire_on_commit=False)
    async with engine.connect() as other, engine.connect() as snapshot:
        await snapshot.execution_options(isolation_level="REPEATABLE READ")
        async with session_factory() as session:
            session.add(Task(title="Buy milk"))
            print(f"ADD: other sees = {await count(other)}")
            print(f"ADD-SNAPSHOT: snapshot sees = {await count(snapshot)}")

            in_session = await session.scalar(select(func.count()).select_from(Task))
            print(f"SESSION: the session itself counts = {in_session}")

            await session.flush()
            print(f"FLUSH: other sees = {await count(other)}")

            await session.commit()
            print(f"COMMIT: other sees = {await count(other)}")
            print(f"COMMIT-SNAPSHOT: snapshot sees = {await count(snapshot)}")
