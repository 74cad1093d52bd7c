"""Known-bad: keeps the argument-order locking and retries after PostgreSQL breaks the deadlock."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import AccountNotFound, InsufficientFunds
from .models import Account, Transfer


async def _attempt(session: AsyncSession, from_id: int, to_id: int, amount: int) -> Transfer:
    source = await session.get(Account, from_id, with_for_update=True)
    target = await session.get(Account, to_id, with_for_update=True)
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


async def transfer(session: AsyncSession, from_id: int, to_id: int, amount: int) -> Transfer:
    for attempt in range(5):
        try:
            return await _attempt(session, from_id, to_id, amount)
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != "40P01" or attempt == 4:
                raise
            await session.rollback()
    raise AssertionError("unreachable")
