"""The HTTP side of withdrawals (given)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from .errors import AccountNotFound, InsufficientFunds
from .service import withdraw

router = APIRouter()


class WithdrawalIn(BaseModel):
    amount: int = Field(gt=0)


class BalanceOut(BaseModel):
    balance: int


@router.post("/accounts/{account_id}/withdraw")
async def withdraw_route(account_id: int, body: WithdrawalIn) -> BalanceOut:
    try:
        return BalanceOut(balance=await withdraw(account_id, body.amount))
    except AccountNotFound:
        raise HTTPException(status_code=404, detail="Account not found") from None
    except InsufficientFunds:
        raise HTTPException(status_code=409, detail="Insufficient funds") from None
