"""Money leaves an account here. Each call is one transaction, from its first read to its commit."""

from __future__ import annotations

from .database import session_factory
from .errors import AccountNotFound, InsufficientFunds
from .models import Account


async def withdraw(account_id: int, amount: int) -> int:
    """Take ``amount`` from the account and return its new balance."""
    async with session_factory()() as session:
        account = await session.get(Account, account_id)
        if account is None:
            raise AccountNotFound(account_id)
        await session.refresh(account)  # FLAW: "read the latest balance" — still a read another write can follow
        if account.balance < amount:
            raise InsufficientFunds(f"balance {account.balance} < {amount}")
        account.balance = account.balance - amount
        await session.commit()
        return account.balance
