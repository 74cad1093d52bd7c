"""Money leaves an account here. Each call is one transaction, from its first read to its commit."""

from __future__ import annotations

from sqlalchemy import update

from .database import session_factory
from .errors import AccountNotFound, InsufficientFunds
from .models import Account


async def withdraw(account_id: int, amount: int) -> int:
    """Take ``amount`` from the account and return its new balance."""
    async with session_factory()() as session:
        account = await session.get(Account, account_id)
        if account is None:
            raise AccountNotFound(account_id)
        if account.balance < amount:  # FLAW: checked on a read that may already be stale ...
            raise InsufficientFunds(f"balance {account.balance} < {amount}")
        new_balance = await session.scalar(  # ... so the atomic decrement can go below zero
            update(Account)
            .where(Account.id == account_id)
            .values(balance=Account.balance - amount)
            .returning(Account.balance)
        )
        await session.commit()
        return int(new_balance or 0)
