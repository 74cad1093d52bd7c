"""Money leaves an account here. Each call is one transaction, from its first read to its commit."""

from __future__ import annotations

from sqlalchemy import update

from .database import session_factory
from .errors import AccountNotFound, InsufficientFunds
from .models import Account


async def withdraw(account_id: int, amount: int) -> int:
    """Take ``amount`` from the account and return its new balance."""
    async with session_factory()() as session:
        # One statement reads, checks and writes: PostgreSQL re-checks the WHERE clause on the
        # latest version of the row when another withdrawal got there first.
        new_balance = await session.scalar(
            update(Account)
            .where(Account.id == account_id, Account.balance >= amount)
            .values(balance=Account.balance - amount)
            .returning(Account.balance)
        )
        if new_balance is None:
            if await session.get(Account, account_id) is None:
                raise AccountNotFound(account_id)
            raise InsufficientFunds(f"balance too small for {amount}")
        await session.commit()
        return int(new_balance)
