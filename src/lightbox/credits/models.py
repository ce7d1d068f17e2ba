"""Credit accounts, reservations and the append-only ledger.

``CreditAccount`` holds the running counters that the atomic conditional updates
work on; the ledger records every movement so the counters can be audited:
balance = sum(grant) - sum(consume), reserved = sum(reserve) - sum(consume) -
sum(release).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from lightbox.db import Base, utcnow
from lightbox.ids import new_id

LEDGER_KINDS = ("grant", "reserve", "consume", "release")
SETTLE_KINDS = ("consume", "release")


class CreditAccount(Base):
    """One row per team; the CHECKs are the last line against a negative balance."""

    __tablename__ = "credit_accounts"
    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance_nonnegative"),
        CheckConstraint("reserved >= 0", name="reserved_nonnegative"),
        CheckConstraint("reserved <= balance", name="reserved_covered"),
    )

    team_id: Mapped[str] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    balance: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def available(self) -> int:
        return self.balance - self.reserved


class Reservation(Base):
    """Credits held for one order until each of its records is settled."""

    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_nonnegative"),
        CheckConstraint("consumed >= 0 AND released >= 0", name="settled_nonnegative"),
        CheckConstraint("consumed + released <= amount", name="settled_within_amount"),
    )

    id: Mapped[str] = mapped_column(
        String(40), primary_key=True, default=lambda: new_id("res")
    )
    team_id: Mapped[str] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[str | None] = mapped_column(String(40), index=True, default=None)
    amount: Mapped[int] = mapped_column(Integer)
    consumed: Mapped[int] = mapped_column(Integer, default=0)
    released: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @property
    def outstanding(self) -> int:
        return self.amount - self.consumed - self.released


class LedgerEntry(Base):
    """One credit movement; rows are only ever inserted.

    ``record_id`` is unique among settle entries (a partial unique index), so two
    workers racing to settle the same record cannot both charge it.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('grant', 'reserve', 'consume', 'release')", name="kind"
        ),
        # Grants must move credits; a settle may be 0 when a price is set to 0,
        # and still marks its record as settled.
        CheckConstraint("amount >= 0", name="amount_nonnegative"),
        CheckConstraint("kind != 'grant' OR amount > 0", name="grant_positive"),
        Index("ix_ledger_entries_team_created", "team_id", "created_at"),
        Index(
            "uq_ledger_entries_settled_record",
            "record_id",
            unique=True,
            sqlite_where=text("kind IN ('consume', 'release')"),
            postgresql_where=text("kind IN ('consume', 'release')"),
        ),
    )

    id: Mapped[str] = mapped_column(
        String(40), primary_key=True, default=lambda: new_id("led")
    )
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(Integer)
    reservation_id: Mapped[str | None] = mapped_column(
        ForeignKey("reservations.id"), index=True, default=None
    )
    order_id: Mapped[str | None] = mapped_column(String(40), default=None)
    record_id: Mapped[str | None] = mapped_column(String(40), default=None)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
