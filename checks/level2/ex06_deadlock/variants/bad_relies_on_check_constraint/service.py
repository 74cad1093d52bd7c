"""Known-bad: locks in id order, but leaves "not enough money" to the CHECK constraint (a 500, not a 409)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from .errors import AccountNotFound
from .models import Account, Transfer


async def transfer(session: AsyncSession, from_id: int, to_id: int, amount: int) -> Transfer:
    locked = {i: await session.get(Account, i, with_for_update=True) for i in sorted((from_id, to_id))}
    source, target = locked[from_id], locked[to_id]
    if source is None or target is None:
        raise AccountNotFound(f"no account {from_id if source is None else to_id}")
    source.balance -= amount  # "balance >= 0" in the schema refuses an overdraft anyway
    target.balance += amount
    record = Transfer(from_id=from_id, to_id=to_id, amount=amount)
    session.add(record)
    await session.flush()
    return record
