"""Known-bad: an asyncio.Lock lets one transfer in at a time, so no two ever hold rows together.

No deadlock while the app is one process; run as several (workers, replicas), the argument-order
locking below meets itself again. Only the database is shared by every process.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import AccountNotFound, InsufficientFunds
from .models import Account, Transfer

_one_at_a_time = asyncio.Lock()  # FLAW: this process's lock only


async def transfer(session: AsyncSession, from_id: int, to_id: int, amount: int) -> Transfer:
    async with _one_at_a_time:
        return await _transfer(session, from_id, to_id, amount)


async def _transfer(session: AsyncSession, from_id: int, to_id: int, amount: int) -> Transfer:
    debited = await session.execute(
        update(Account)
        .where(Account.id == from_id, Account.balance >= amount)
        .values(balance=Account.balance - amount)
        .returning(Account.id)
    )
    if debited.scalar_one_or_none() is None:
        exists = await session.scalar(select(Account.id).where(Account.id == from_id))
        if exists is None:
            raise AccountNotFound(f"no account {from_id}")
        raise InsufficientFunds(f"account {from_id} cannot send {amount}")
    credited = await session.execute(
        update(Account).where(Account.id == to_id).values(balance=Account.balance + amount).returning(Account.id)
    )
    if credited.scalar_one_or_none() is None:
        raise AccountNotFound(f"no account {to_id}")
    record = Transfer(from_id=from_id, to_id=to_id, amount=amount)
    session.add(record)
    await session.flush()
    return record
