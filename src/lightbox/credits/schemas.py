"""Response shapes of the credits endpoint (camelCase, as the rest of the API)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LedgerEntryOut(BaseModel):
    id: str
    kind: str = Field(description="grant, reserve, consume or release")
    amount: int
    reservationId: str | None
    orderId: str | None
    recordId: str | None
    note: str
    createdAt: str


class CreditsOut(BaseModel):
    balance: int = Field(description="Granted minus consumed credits.")
    reserved: int = Field(description="Held for orders still rendering.")
    available: int = Field(description="What a new order can spend.")
    ledger: list[LedgerEntryOut] = Field(description="Recent entries, newest first.")
