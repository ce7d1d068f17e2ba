"""``GET /credits``: the caller's team's balance and recent ledger entries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from lightbox.accounts.auth import ApiPrincipal, require_scope
from lightbox.credits import service
from lightbox.credits.models import LedgerEntry
from lightbox.credits.schemas import CreditsOut, LedgerEntryOut
from lightbox.db import isoformat
from lightbox.deps import SessionDep

router = APIRouter()


def serialize_entry(entry: LedgerEntry) -> LedgerEntryOut:
    return LedgerEntryOut(
        id=entry.id,
        kind=entry.kind,
        amount=entry.amount,
        reservationId=entry.reservation_id,
        orderId=entry.order_id,
        recordId=entry.record_id,
        note=entry.note,
        createdAt=isoformat(entry.created_at),
    )


@router.get("/credits", response_model=CreditsOut, summary="Credit balance")
def get_credits(
    session: SessionDep,
    principal: Annotated[ApiPrincipal, Depends(require_scope("content.read"))],
    limit: Annotated[int, Query(ge=1, le=500, description="Ledger entries.")] = 50,
) -> CreditsOut:
    """The team's balance, reserved and available credits, and recent ledger entries."""
    totals = service.summary(session, team_id=principal.team_id)
    entries = service.ledger(session, team_id=principal.team_id, limit=limit)
    return CreditsOut(
        balance=totals.balance,
        reserved=totals.reserved,
        available=totals.available,
        ledger=[serialize_entry(entry) for entry in entries],
    )
