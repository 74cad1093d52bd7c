"""Known-bad: an asyncio.Lock lets one withdrawal in at a time. Right in one process; the app may run as several."""

from __future__ import annotations

import asyncio

from .database import session_factory
from .errors import AccountNotFound, InsufficientFunds
from .models import Account

_one_at_a_time = asyncio.Lock()  # one withdrawal at a time in this process: nothing can come in between


async def withdraw(account_id: int, amount: int) -> int:
    """Take ``amount`` from the account and return its new balance."""
    async with _one_at_a_time, session_factory()() as session:
        account = await session.get(Account, account_id)
        if account is None:
            raise AccountNotFound(account_id)
        if account.balance < amount:
            raise InsufficientFunds(f"balance {account.balance} < {amount}")
        account.balance = account.balance - amount
        await session.commit()
        return account.balance
