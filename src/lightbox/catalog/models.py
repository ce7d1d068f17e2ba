"""The inputs a team brings to a shoot: uploaded products and photography presets.

(Models and sceneries are records of ``generation``: they are generated or
uploaded the same way as every other result.)
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lightbox.db import Base, utcnow
from lightbox.ids import new_id

UPLOADED = "UPLOADED"


class Product(Base):
    """A product photo a team uploaded; deleting only sets ``deleted_at``.

    Soft deletion keeps the files that generated records were made from, so
    those records stay viewable after their product is gone from the list.
    """

    __tablename__ = "products"
    __table_args__ = (
        # GET /products: one team's live products, newest first.
        Index("ix_products_team_id_created_at", "team_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(
        String(40), primary_key=True, default=lambda: new_id("prod")
    )
    team_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("teams.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=UPLOADED)
    original_key: Mapped[str] = mapped_column(String(512))
    thumb_key: Mapped[str] = mapped_column(String(512))
    # An RGBA PNG; set at upload for images with real alpha, else on first use.
    cutout_key: Mapped[str | None] = mapped_column(String(512), nullable=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class Preset(Base):
    """Photography guidelines; ``team_id`` NULL marks a system preset.

    ``guidelines`` is the text the engine reads (its style words); for a team's
    preset it is the quality and quantity guidelines joined.
    """

    __tablename__ = "presets"
    __table_args__ = (
        Index("ix_presets_team_id_created_at", "team_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(
        String(40), primary_key=True, default=lambda: new_id("preset")
    )
    team_id: Mapped[str | None] = mapped_column(
        String(40), ForeignKey("teams.id", ondelete="CASCADE"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(200))
    guidelines: Mapped[str] = mapped_column(Text, default="")
    quantity_guidelines: Mapped[str] = mapped_column(Text, default="")
    quality_guidelines: Mapped[str] = mapped_column(Text, default="")
    cover_key: Mapped[str | None] = mapped_column(String(512), nullable=True)
    gallery_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @property
    def is_system(self) -> bool:
        return self.team_id is None
