"""Granting, reserving and settling credits.

Every change to a team's counters is a single conditional UPDATE, so the database
decides races, not Python: two requests that both see 100 available cannot both
reserve 100. PostgreSQL re-checks the WHERE clause after waiting for a row lock;
SQLite serialises writers (``BEGIN IMMEDIATE`` in lightbox.db). Each change also
appends a ledger entry in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import structlog
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lightbox import metrics
from lightbox.accounts.models import Team
from lightbox.credits.models import CreditAccount, LedgerEntry, Reservation
from lightbox.db import on_commit, utcnow
from lightbox.errors import BadRequest, Conflict, InsufficientCredits, NotFound
from lightbox.ids import new_id

log = structlog.get_logger(__name__)

Outcome = Literal["consume", "release"]


@dataclass(frozen=True)
class CreditSummary:
    balance: int
    reserved: int
    available: int


def _check_amount(amount: int, *, positive: bool = True) -> None:
    # bool is an int; a True amount is a bug upstream, not one credit.
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise BadRequest(f"amount: must be an integer, not {amount!r}")
    if amount < (1 if positive else 0):
        bound = "positive" if positive else "zero or more"
        raise BadRequest(f"amount: must be {bound}, not {amount}")


def _count(session: Session, kind: str, amount: int) -> None:
    # Counted on commit: a rolled-back order moved no credits.
    on_commit(session, lambda: metrics.credits.labels(kind).inc(amount))


def _available(session: Session, team_id: str) -> int:
    account = session.get(CreditAccount, team_id, populate_existing=True)
    return 0 if account is None else account.available


def grant(
    session: Session, *, team_id: str, amount: int, note: str = ""
) -> LedgerEntry:
    """Add ``amount`` credits to the team's balance."""
    _check_amount(amount)

    result = session.execute(
        update(CreditAccount)
        .where(CreditAccount.team_id == team_id)
        .values(balance=CreditAccount.balance + amount)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:
        # Teams made by create_team have an account; this covers older rows.
        if session.get(Team, team_id) is None:
            raise NotFound(f"Team not found: {team_id}")
        session.add(CreditAccount(team_id=team_id, balance=amount, reserved=0))

    entry = LedgerEntry(team_id=team_id, kind="grant", amount=amount, note=note[:500])
    session.add(entry)
    session.flush()

    _count(session, "grant", amount)
    log.info("credits.granted", team_id=team_id, amount=amount)
    return entry


def reserve(
    session: Session, *, team_id: str, amount: int, order_id: str | None
) -> Reservation:
    """Hold ``amount`` credits for an order, all or nothing.

    Raises InsufficientCredits(required, available) and changes nothing when the
    team's available credits (balance - reserved) do not cover the whole amount.
    """
    _check_amount(amount, positive=False)

    result = session.execute(
        update(CreditAccount)
        .where(
            CreditAccount.team_id == team_id,
            CreditAccount.balance - CreditAccount.reserved >= amount,
        )
        .values(reserved=CreditAccount.reserved + amount)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:
        available = _available(session, team_id)
        log.info("credits.insufficient", team_id=team_id, required=amount,
                 available=available)
        raise InsufficientCredits(required=amount, available=available)

    reservation = Reservation(team_id=team_id, order_id=order_id, amount=amount)
    session.add(reservation)
    session.flush()
    session.add(LedgerEntry(
        team_id=team_id, kind="reserve", amount=amount,
        reservation_id=reservation.id, order_id=order_id,
    ))
    session.flush()

    _count(session, "reserve", amount)
    log.info("credits.reserved", team_id=team_id, reservation_id=reservation.id,
             order_id=order_id, amount=amount)
    return reservation


def _insert_settle_entry(session: Session, values: dict) -> bool:
    """Insert a settle entry unless its record is already settled; True if inserted.

    ON CONFLICT DO NOTHING against the partial unique index makes a racing second
    settle wait for the first and then insert nothing, instead of failing the
    whole transaction with an IntegrityError.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        insert = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:  # pragma: no cover - only the two supported databases reach here
        raise RuntimeError(f"unsupported database for credits: {dialect}")

    statement = (
        insert(LedgerEntry)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=["record_id"],
            index_where=LedgerEntry.kind.in_(("consume", "release")),
        )
    )
    # RETURNING, not rowcount: psycopg reports -1 for this statement.
    return session.execute(statement.returning(LedgerEntry.id)).first() is not None


def settle(
    session: Session,
    *,
    reservation_id: str,
    record_id: str,
    amount: int,
    outcome: Outcome,
) -> bool:
    """Consume or release one record's share of a reservation, once per record.

    Returns False and changes nothing when the record was already settled (either
    way): duplicate task deliveries and sweeps may call this freely.
    """
    if outcome not in ("consume", "release"):
        raise BadRequest(f"outcome: must be 'consume' or 'release', not {outcome!r}")
    _check_amount(amount, positive=False)
    reservation = session.get(Reservation, reservation_id)
    if reservation is None:
        raise NotFound(f"Reservation not found: {reservation_id}")

    inserted = _insert_settle_entry(session, {
        "id": new_id("led"),
        "team_id": reservation.team_id,
        "kind": outcome,
        "amount": amount,
        "reservation_id": reservation_id,
        "order_id": reservation.order_id,
        "record_id": record_id,
        "note": "",
        "created_at": utcnow(),
    })
    if not inserted:
        log.info("credits.settle_duplicate", reservation_id=reservation_id,
                 record_id=record_id)
        return False

    column = Reservation.consumed if outcome == "consume" else Reservation.released
    moved = session.execute(
        update(Reservation)
        .where(
            Reservation.id == reservation_id,
            Reservation.consumed + Reservation.released + amount
            <= Reservation.amount,
        )
        .values({column: column + amount})
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved == 0:
        # More settled than reserved is a pricing bug; refuse rather than let the
        # books drift (the caller's transaction rolls back with this error).
        raise Conflict(
            f"Settling {amount} for record {record_id} exceeds what remains of "
            f"reservation {reservation_id}."
        )

    counters = {CreditAccount.reserved: CreditAccount.reserved - amount}
    if outcome == "consume":
        counters[CreditAccount.balance] = CreditAccount.balance - amount
    session.execute(
        update(CreditAccount)
        .where(CreditAccount.team_id == reservation.team_id)
        .values(counters)
        .execution_options(synchronize_session=False)
    )
    # The UPDATE bypassed the identity map; reload so callers see fresh numbers.
    session.refresh(reservation, ["consumed", "released"])

    _count(session, outcome, amount)
    log.info("credits.settled", reservation_id=reservation_id, record_id=record_id,
             outcome=outcome, amount=amount)
    return True


def summary(session: Session, *, team_id: str) -> CreditSummary:
    account = session.get(CreditAccount, team_id, populate_existing=True)
    if account is None:
        return CreditSummary(balance=0, reserved=0, available=0)
    return CreditSummary(
        balance=account.balance,
        reserved=account.reserved,
        available=account.available,
    )


def ledger(session: Session, *, team_id: str, limit: int = 50) -> list[LedgerEntry]:
    """The team's most recent ledger entries, newest first."""
    query = (
        select(LedgerEntry)
        .where(LedgerEntry.team_id == team_id)
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def get_reservation(session: Session, *, reservation_id: str) -> Reservation:
    reservation = session.get(Reservation, reservation_id, populate_existing=True)
    if reservation is None:
        raise NotFound(f"Reservation not found: {reservation_id}")
    return reservation
