"""Money leaves an account here. Each call is one transaction, from its first read to its commit."""

from __future__ import annotations

from .database import session_factory
from .errors import AccountNotFound, InsufficientFunds
from .models import Account


async def withdraw(account_id: int, amount: int) -> int:
    """Take ``amount`` from the account and return its new balance."""
    async with session_factory()() as session:
        # FLAW: REPEATABLE READ refuses the lost update (SQLSTATE 40001), but nothing retries it
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        account = await session.get(Account, account_id)
        if account is None:
            raise AccountNotFound(account_id)
        if account.balance < amount:
            raise InsufficientFunds(f"balance {account.balance} < {amount}")
        account.balance = account.balance - amount
        await session.commit()
        return account.balance
