"""Alternative fix: lock both rows with one SELECT ... ORDER BY id FOR UPDATE."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import AccountNotFound, InsufficientFunds
from .models import Account, Transfer


async def transfer(session: AsyncSession, from_id: int, to_id: int, amount: int) -> Transfer:
    stmt = select(Account).where(Account.id.in_((from_id, to_id))).order_by(Account.id).with_for_update()
    accounts = {a.id: a for a in (await session.execute(stmt)).scalars()}
    source, target = accounts.get(from_id), accounts.get(to_id)
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
