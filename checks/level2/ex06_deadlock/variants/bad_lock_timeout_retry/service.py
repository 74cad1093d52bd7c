"""Known-bad: the deadlock-prone lock order kept, each lock wait cut short by a 40 ms lock_timeout and retried.

PostgreSQL never gets to detect the deadlock (the wait gives up first, SQLSTATE 55P03), so no 40P01 is
raised; the transactions still wait for each other, and only a retry loop with jitter gets them through.
(From the attacker helper's report.)
"""

from __future__ import annotations

import asyncio
import random

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import AccountNotFound, InsufficientFunds
from .models import Account, Transfer


def _sqlstate(exc: BaseException) -> str | None:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        for e in (exc, getattr(exc, "orig", None)):
            state = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
            if isinstance(state, str):
                return state
        exc = exc.__cause__ or exc.__context__
    return None


async def transfer(session: AsyncSession, from_id: int, to_id: int, amount: int) -> Transfer:
    """Move ``amount`` cents from one account to another, inside the caller's transaction."""
    # Same lock order as before (source first), but never wait long for a row: after 40 ms give back what
    # this attempt locked (rollback to the savepoint) and try again a moment later.
    await session.execute(text("set local lock_timeout = '40ms'"))
    for _attempt in range(2000):
        try:
            async with session.begin_nested():
                source = await session.get(Account, from_id, with_for_update=True, populate_existing=True)
                target = await session.get(Account, to_id, with_for_update=True, populate_existing=True)
            break
        except DBAPIError as exc:
            if _sqlstate(exc) != "55P03":
                raise
            await asyncio.sleep(random.uniform(0.0, 0.01))
    else:
        raise RuntimeError("could not lock the accounts")
    if source is None or target is None:
        raise AccountNotFound(f"no account {from_id if source is None else to_id}")
    if source.balance < amount:
        raise InsufficientFunds(f"account {from_id} holds {source.balance}, cannot send {amount}")
    source.balance -= amount
    target.balance += amount
    record = Transfer(from_id=from_id, to_id=to_id, amount=amount)
    session.add(record)
    await session.flush()
    return record
