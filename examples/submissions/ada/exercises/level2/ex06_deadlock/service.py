"""Moving money between accounts (reference solution)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from .errors import AccountNotFound, InsufficientFunds
from .models import Account, Transfer


async def transfer(session: AsyncSession, from_id: int, to_id: int, amount: int) -> Transfer:
    """Move ``amount`` cents from one account to another, inside the caller's transaction."""
    locked: dict[int, Account | None] = {}
    for account_id in sorted((from_id, to_id)):  # every transfer locks in ascending id order: no wait cycle
        locked[account_id] = await session.get(Account, account_id, with_for_update=True)
    source, target = locked[from_id], locked[to_id]  # pick the roles only after both rows are locked
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
