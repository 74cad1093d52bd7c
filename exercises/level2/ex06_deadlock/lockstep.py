"""Test helper (given, used by the tests): make concurrent transfers overlap the same way on every run.

``lockstep(admin, calls)`` is ``dbkata.lockstep`` on the ``account`` table: it starts every call at
once and pauses each one right after each statement that locks rows of ``account``
(``SELECT ... FOR UPDATE``/``FOR SHARE``, ``UPDATE``, ``DELETE``), until every call is paused there,
waiting for a row lock, or finished. Then all of them go on together. Two opposite transfers
therefore always both hold their first row before either asks for its second: the interleaving that
deadlocks, if the code can deadlock at all. No sleeps, no timing. It also records every SQLSTATE
PostgreSQL raised meanwhile, so a deadlock that was caught and retried is still counted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

import dbkata
from dbkata import LockstepRun

__all__ = ["LockstepRun", "lockstep"]


async def lockstep(admin: AsyncEngine, calls: Sequence[Callable[[], Awaitable[Any]]]) -> LockstepRun:
    """Run ``calls`` concurrently, each paused after its row-locking statements until all are paused."""
    return await dbkata.lockstep(admin, calls, table="account")
