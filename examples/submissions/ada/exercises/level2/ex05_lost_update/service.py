"""Money leaves an account here. Each call is one transaction, from its first read to its commit."""

from __future__ import annotations

from sqlalchemy import select

from .database import session_factory
from .errors import AccountNotFound, InsufficientFunds
from .models import Account


async def withdraw(account_id: int, amount: int) -> int:
    """Take ``amount`` from the account and return its new balance."""
    async with session_factory()() as session:
        # FOR UPDATE: a second withdrawal of this account waits here until this one commits, then
        # reads the balance this one wrote; the read and the write can no longer interleave.
        query = select(Account).where(Account.id == account_id).with_for_update()
        account = (await session.execute(query)).scalar_one_or_none()
        if account is None:
            raise AccountNotFound(account_id)
        if account.balance < amount:
            raise InsufficientFunds(f"balance {account.balance} < {amount}")
        account.balance = account.balance - amount
        await session.commit()  # releases the row lock
        return account.balance
