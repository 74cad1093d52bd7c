"""Runs your fix (given, read-only): ``create_task()`` from fix.py, as ``dropped()`` runs the original.

The checks call :func:`run` in the exercise's app process, on a database of their own.
"""

from __future__ import annotations

import contextlib
import io
import os

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from .refresh import work_category


async def run() -> list[str]:
    """dropped() with fix.create_task(); return the lines printed (its exception propagates)."""
    from . import fix  # imported here, in the app process only

    engine = create_async_engine(os.environ["DATABASE_URL"])
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            async with async_sessionmaker(engine, expire_on_commit=False)() as session:
                work = await work_category(session)
                task = await fix.create_task(session, work)
                del work
                print(f"E: task.category.name = {task.category.name}")
    finally:
        await engine.dispose()
    return out.getvalue().splitlines()
