"""Known-bad: locks in id order, but checks and updates a balance read before the lock."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from .errors import AccountNotFound, InsufficientFunds
from .models import Account, Transfer


async def transfer(session: AsyncSession, from_id: int, to_id: int, amount: int) -> Transfer:
    source = await session.get(Account, from_id)
    target = await session.get(Account, to_id)
    if source is None or target is None:
        raise AccountNotFound(f"no account {from_id if source is None else to_id}")
    for account_id in sorted((from_id, to_id)):
        await session.get(Account, account_id, with_for_update=True)  # locks, but the objects keep old values
    if source.balance < amount:
        raise InsufficientFunds(f"account {from_id} holds {source.balance}, cannot send {amount}")
    source.balance -= amount
    target.balance += amount
    record = Transfer(from_id=from_id, to_id=to_id, amount=amount)
    session.add(record)
    await session.flush()
    return record
