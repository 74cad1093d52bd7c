"""HTTP endpoints (given): the transaction belongs to the request, the work to ``service.transfer``."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from .deps import SessionDep
from .errors import AccountNotFound, InsufficientFunds
from .models import Account, Transfer
from .schemas import AccountOut, TransferIn, TransferOut
from .service import transfer

router = APIRouter()


@router.post("/transfers", status_code=201, response_model=TransferOut)
async def post_transfer(body: TransferIn, session: SessionDep) -> Transfer:
    try:
        return await transfer(session, body.from_id, body.to_id, body.amount)
    except AccountNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except InsufficientFunds as exc:
        raise HTTPException(409, str(exc)) from exc


@router.get("/accounts/{account_id}", response_model=AccountOut)
async def get_account(account_id: int, session: SessionDep) -> Account:
    account = await session.get(Account, account_id)
    if account is None:
        raise HTTPException(404, f"no account {account_id}")
    return account
