"""The harness's view of the server cannot be bent by session defaults the code under test sets."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from dbkata.cluster import Database

SYSTEM_VIEW = "select 'pg_stat_activity'::regclass = 'pg_catalog.pg_stat_activity'::regclass"


async def test_a_shadow_pg_stat_activity_never_reaches_the_harness(db: Database, admin: AsyncEngine) -> None:
    # The code, as the app role: a view of its own named like the system one, put first for every
    # later session of its role and of its database (where it may: the owner can set the database's).
    app = create_async_engine(db.app.sa_url(), poolclass=NullPool)
    try:
        async with app.connect() as conn:
            await conn.exec_driver_sql("create schema shadow")
            await conn.exec_driver_sql("create view shadow.pg_stat_activity as select 4 as waiting")
            await conn.exec_driver_sql("alter role current_user set search_path = shadow, pg_catalog")
            owns = await conn.scalar(
                text(
                    "select pg_catalog.pg_get_userbyid(datdba) = current_user from pg_catalog.pg_database "
                    "where datname = current_database()"
                )
            )
            if owns:
                await conn.exec_driver_sql(f'alter database "{db.name}" set search_path = shadow, pg_catalog')
            await conn.commit()
        async with app.connect() as conn:  # the attack works on a plain new session of the role
            assert await conn.scalar(text(SYSTEM_VIEW)) is False
        async with admin.connect() as conn:
            assert await conn.scalar(text(SYSTEM_VIEW)) is True
    finally:
        async with app.connect() as conn:
            await conn.exec_driver_sql("alter role current_user reset search_path")
            await conn.commit()
        await app.dispose()
