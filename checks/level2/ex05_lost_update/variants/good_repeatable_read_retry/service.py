"""Money leaves an account here. Each call is one transaction, from its first read to its commit."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from .database import session_factory
from .errors import AccountNotFound, InsufficientFunds
from .models import Account


async def withdraw(account_id: int, amount: int) -> int:
    """Take ``amount`` from the account and return its new balance."""
    for _ in range(5):
        try:
            return await _withdraw_once(account_id, amount)
        except DBAPIError as exc:
            # 40001: another transaction changed the row after ours began; start over with fresh data.
            if getattr(exc.orig, "sqlstate", None) != "40001":
                raise
    raise RuntimeError("withdrawal kept conflicting; giving up")


async def _withdraw_once(account_id: int, amount: int) -> int:
    async with session_factory()() as session:
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        account = await session.get(Account, account_id)
        if account is None:
            raise AccountNotFound(account_id)
        if account.balance < amount:
            raise InsufficientFunds(f"balance {account.balance} < {amount}")
        account.balance = account.balance - amount
        await session.commit()
        return account.balance
