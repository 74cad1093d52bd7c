"""Request and response bodies (given)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TransferIn(BaseModel):
    from_id: int
    to_id: int
    amount: int = Field(gt=0)  # cents

    @model_validator(mode="after")
    def _two_accounts(self) -> TransferIn:
        if self.from_id == self.to_id:
            raise ValueError("from_id and to_id must be different accounts")
        return self


class TransferOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    from_id: int
    to_id: int
    amount: int


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner: str
    balance: int
