"""Known-bad: one asyncio.Lock per account. Withdrawals from other accounts go on, but the lock is the
process's own: run as several processes, two withdrawals from one account race again."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from .database import session_factory
from .errors import AccountNotFound, InsufficientFunds
from .models import Account

_per_account: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)  # FLAW: this process's locks only


async def withdraw(account_id: int, amount: int) -> int:
    """Take ``amount`` from the account and return its new balance."""
    async with _per_account[account_id], session_factory()() as session:
        account = await session.get(Account, account_id)
        if account is None:
            raise AccountNotFound(account_id)
        if account.balance < amount:
            raise InsufficientFunds(f"balance {account.balance} < {amount}")
        account.balance = account.balance - amount
        await session.commit()
        return account.balance
