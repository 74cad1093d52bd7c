"""Alternative fix: atomic UPDATEs with a balance guard, issued in ascending id order."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import AccountNotFound, InsufficientFunds
from .models import Account, Transfer


async def transfer(session: AsyncSession, from_id: int, to_id: int, amount: int) -> Transfer:
    found = set((await session.scalars(select(Account.id).where(Account.id.in_((from_id, to_id))))).all())
    for account_id in (from_id, to_id):
        if account_id not in found:
            raise AccountNotFound(f"no account {account_id}")
    for account_id in sorted((from_id, to_id)):
        if account_id == from_id:
            stmt = (
                update(Account)
                .where(Account.id == from_id, Account.balance >= amount)
                .values(balance=Account.balance - amount)
                .returning(Account.id)
            )
            if (await session.execute(stmt)).scalar_one_or_none() is None:
                raise InsufficientFunds(f"account {from_id} cannot send {amount}")
        else:
            await session.execute(update(Account).where(Account.id == to_id).values(balance=Account.balance + amount))
    record = Transfer(from_id=from_id, to_id=to_id, amount=amount)
    session.add(record)
    await session.flush()
    return record
