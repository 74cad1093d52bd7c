"""Known-bad: NOWAIT turns the deadlock into an immediate lock error; the transfer still fails."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import AccountNotFound, InsufficientFunds
from .models import Account, Transfer


async def _lock(session: AsyncSession, account_id: int) -> Account | None:
    stmt = select(Account).where(Account.id == account_id).with_for_update(nowait=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def transfer(session: AsyncSession, from_id: int, to_id: int, amount: int) -> Transfer:
    source = await _lock(session, from_id)
    target = await _lock(session, to_id)
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
