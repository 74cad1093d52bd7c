"""Runs your fix (given, read-only): ``read_task()`` from fix.py, as ``plain()`` runs the original.

The checks call :func:`run` in the exercise's app process, on a database of their own.
"""

from __future__ import annotations

import contextlib
import io
import os

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine


async def run() -> list[str]:
    """Run fix.read_task() with expire_on_commit=False; return the lines it printed (its exception propagates)."""
    from . import fix  # imported here, in the app process only

    engine = create_async_engine(os.environ["DATABASE_URL"])
    out = io.StringIO()
    try:
        session_factory = async_sessionmaker(engine, expire_on_commit=False)
        with contextlib.redirect_stdout(out):
            async with session_factory() as session:
                await fix.read_task(session)
    finally:
        await engine.dispose()
    return out.getvalue().splitlines()
