"""Alternative fix: any order works as long as every transfer uses the same one (here: descending id)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from .errors import AccountNotFound, InsufficientFunds
from .models import Account, Transfer


async def transfer(session: AsyncSession, from_id: int, to_id: int, amount: int) -> Transfer:
    locked = {i: await session.get(Account, i, with_for_update=True) for i in sorted((from_id, to_id), reverse=True)}
    source, target = locked[from_id], locked[to_id]
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
