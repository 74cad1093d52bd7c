"""Moving money between accounts (known-bad: commits after the debit to release the first lock early).

This never deadlocks, but it is no longer all or nothing: a transfer to an unknown account answers
404 after the money has already left the source. No transaction ever holds two account locks, and the
locks are FOR NO KEY UPDATE, which the foreign-key checks of the transfer INSERT (FOR KEY SHARE on both
accounts) never wait for. With FOR UPDATE the two INSERTs could each wait for the other's account,
a deadlock or not depending on timing, which no check may hang on.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from .errors import AccountNotFound, InsufficientFunds
from .models import Account, Transfer


async def transfer(session: AsyncSession, from_id: int, to_id: int, amount: int) -> Transfer:
    """Move ``amount`` cents from one account to another."""
    source = await session.get(Account, from_id, with_for_update={"key_share": True})
    if source is None:
        raise AccountNotFound(f"no account {from_id}")
    if source.balance < amount:
        raise InsufficientFunds(f"account {from_id} holds {source.balance}, cannot send {amount}")
    source.balance -= amount
    await session.commit()  # BUG: releases the lock early, and makes the debit permanent on its own
    target = await session.get(Account, to_id, with_for_update={"key_share": True})
    if target is None:
        raise AccountNotFound(f"no account {to_id}")
    target.balance += amount
    record = Transfer(from_id=from_id, to_id=to_id, amount=amount)
    session.add(record)
    await session.flush()
    return record
