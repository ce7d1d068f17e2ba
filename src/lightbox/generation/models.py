"""Orders and the records they generate.

An order is one paid ``register-*`` call; each of its items is a record that a
worker renders. Uploaded models and sceneries are records without an order. The
database is the source of truth: the queue only carries record ids.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lightbox.db import Base, utcnow

KINDS = ("image", "packshot", "model", "scenery", "video", "reel")

# The id prefix of each kind's records (ids.PREFIXES); a reel is a video.
RECORD_PREFIX = {
    "image": "img",
    "packshot": "ps",
    "model": "model",
    "scenery": "scn",
    "video": "vid",
    "reel": "vid",
}

INPROGRESS = "INPROGRESS"
DONE = "DONE"
FAILED = "FAILED"
STATUSES = (INPROGRESS, DONE, FAILED)

APPROVED = "APPROVED"
REJECTED = "REJECTED"
VOTES = (APPROVED, REJECTED)


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    team_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    batch_id: Mapped[str] = mapped_column(String(40), unique=True)
    reservation_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    count: Mapped[int] = mapped_column(Integer)
    price_each: Mapped[int] = mapped_column(Integer)
    credits_reserved: Mapped[int] = mapped_column(Integer)
    # The validated request config (ids, industry, suggestions, seed, ...).
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Record(Base):
    """One generated (or uploaded) image or video and its render bookkeeping."""

    __tablename__ = "records"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    team_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("teams.id", ondelete="CASCADE")
    )
    order_id: Mapped[str | None] = mapped_column(
        String(40), ForeignKey("orders.id", ondelete="CASCADE"), nullable=True,
        index=True,
    )
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(16), default=INPROGRESS)
    voting: Mapped[str | None] = mapped_column(String(16), nullable=True)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    # A plain string, not a foreign key: records survive their product's deletion.
    product_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # Everything the renderer needs: preferences, config ids, industry,
    # suggestions, seed, variant (and source image ids for videos).
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    price: Mapped[int] = mapped_column(Integer, default=0)

    image_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    thumb_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # Extra media keys by role: cutout, mask, background, foreground, video ...
    layers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Engine metadata the next render needs: Scenery.to_meta(), Figure.to_meta().
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    lease_token: Mapped[str | None] = mapped_column(String(40), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # True once this record's share of the reservation was consumed or released.
    settled: Mapped[bool] = mapped_column(Boolean, default=False)

    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)

    __table_args__ = (
        # Lists: one team's records of one kind, archived or not, newest first;
        # id last so the keyset cursor (created_at, id) is served by the index.
        Index(
            "ix_records_team_kind_archived_created",
            "team_id", "kind", "archived", "created_at", "id",
        ),
        # The image picker filtered by product.
        Index(
            "ix_records_team_kind_product_created",
            "team_id", "kind", "product_id", "created_at", "id",
        ),
        # The sweep: unfinished records whose lease expired.
        Index("ix_records_status_lease_until", "status", "lease_until"),
    )
