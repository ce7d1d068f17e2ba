"""Ordering videos and reels, and listing them.

A video or a reel is one record of an order, paid, queued, rendered, settled
and voted on exactly like every other record (``generation``): only its inputs
differ (source image ids instead of a product). Source images are the team's
DONE photo-shoot images (kind ``image``) or packshots; a rejected one is still
usable, as an archived scenery is for shoots. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import structlog
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from lightbox.credits import service as credits
from lightbox.db import on_commit, utcnow
from lightbox.errors import NotFound
from lightbox.generation.models import (
    APPROVED,
    DONE,
    INPROGRESS,
    RECORD_PREFIX,
    Order,
    Record,
)
from lightbox.generation.serialize import record_json
from lightbox.generation.service import (
    Enqueuer,
    decode_cursor,
    derived_seed,
    encode_cursor,
)
from lightbox.ids import new_id
from lightbox.media.storage import Storage
from lightbox.videos.schemas import ReelRequest, VideoRequest

log = structlog.get_logger(__name__)

SOURCE_KINDS = ("image", "packshot")
VIDEO_KINDS = ("video", "reel")


@dataclass(frozen=True)
class VideoOrder:
    order: Order
    record: Record


def source_image(session: Session, *, team_id: str, image_id: str,
                 field: str) -> Record:
    """A DONE image or packshot of the team, else NotFound naming ``field``."""
    record = session.get(Record, image_id)
    if (
        record is None
        or record.team_id != team_id
        or record.kind not in SOURCE_KINDS
        or record.status != DONE
        or not record.image_key
    ):
        raise NotFound(f"Image not found: {field}")
    return record


def register_video(
    session: Session, *, team_id: str, request: VideoRequest, provider: str,
    price: int, queue: Enqueuer, request_id: str | None = None,
) -> VideoOrder:
    """Order one video of one image: 404 for the image, then 402, then write."""
    source = source_image(session, team_id=team_id, image_id=request.image_id,
                          field=request.field)
    params = {
        "source_ids": [source.id],
        "suggestion": request.suggestion,
        "provider": provider,
    }
    return _register(
        session, team_id=team_id, kind="video", name=f"{source.name} — Video",
        product_id=source.product_id, params=params, seed=request.seed,
        price=price, config={"imageId": source.id, **_config(request, provider)},
        queue=queue, request_id=request_id,
    )


def register_reel(
    session: Session, *, team_id: str, request: ReelRequest, provider: str,
    price_per_image: int, queue: Enqueuer, request_id: str | None = None,
) -> VideoOrder:
    """Order one reel of 2..20 images, priced per image; 404 names the index."""
    sources = [
        source_image(session, team_id=team_id, image_id=image_id,
                     field=f"imageIds[{index}]")
        for index, image_id in enumerate(request.image_ids)
    ]
    products = {source.product_id for source in sources}
    product_id = products.pop() if len(products) == 1 else None
    params = {
        "source_ids": [source.id for source in sources],
        "suggestion": request.suggestion,
        "provider": provider,
    }
    name = f"{_base_name(sources[0].name)} — Reel of {len(sources)} images"
    return _register(
        session, team_id=team_id, kind="reel", name=name, product_id=product_id,
        params=params, seed=request.seed, price=price_per_image * len(sources),
        config={"imageIds": list(request.image_ids), **_config(request, provider)},
        queue=queue, request_id=request_id,
    )


def _config(request: VideoRequest | ReelRequest, provider: str) -> dict[str, Any]:
    config: dict[str, Any] = {"suggestion": request.suggestion, "provider": provider}
    if request.seed is not None:
        config["seed"] = request.seed
    return config


def _base_name(name: str) -> str:
    """"White T-Shirt" of "White T-Shirt — Variant 2": a reel mixes variants."""
    return name.split(" — ")[0].strip() or name


def _register(
    session: Session, *, team_id: str, kind: str, name: str,
    product_id: str | None, params: dict[str, Any], seed: int | None, price: int,
    config: dict[str, Any], queue: Enqueuer, request_id: str | None,
) -> VideoOrder:
    order = Order(
        id=new_id("ord"), team_id=team_id, kind=kind, batch_id=new_id("batch"),
        count=1, price_each=price, credits_reserved=price, config=config,
        request_id=request_id,
    )
    # The order goes in first so the reservation may reference it; a 402 from
    # reserve() rolls the request back, the order with it.
    session.add(order)
    reservation = credits.reserve(session, team_id=team_id, amount=price,
                                  order_id=order.id)
    order.reservation_id = reservation.id

    record_id = new_id(RECORD_PREFIX[kind])
    record = Record(
        id=record_id, team_id=team_id, order_id=order.id, kind=kind,
        name=name[:300], status=INPROGRESS, product_id=product_id,
        params={**params, "seed": derived_seed(record_id) if seed is None else seed,
                "variant": 0},
        price=price, layers={}, meta={}, created_at=utcnow(),
    )
    session.add(record)
    session.flush()

    on_commit(session, partial(queue.enqueue, record.id, request_id=request_id))
    log.info("order.registered", order_id=order.id, kind=kind, count=1,
             credits=price, team_id=team_id,
             images=len(params["source_ids"]), provider=params["provider"])
    return VideoOrder(order=order, record=record)


# Lists -------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoPage:
    records: Sequence[Record]
    next_cursor: str | None


def list_videos(
    session: Session, *, team_id: str, status_filter: str = "all",
    limit: int | None = None, cursor: str | None = None,
) -> VideoPage:
    """The team's videos and reels together, newest first (as generation's lists).

    ORM rows, not generation's column tuples: the MP4's key lives in ``layers``.
    """
    query = select(Record).where(Record.team_id == team_id,
                                 Record.kind.in_(VIDEO_KINDS))
    query = query.where(Record.archived.is_(status_filter == "rejected"))
    if status_filter == "approved":
        query = query.where(Record.voting == APPROVED)

    if cursor:
        created_at, record_id = decode_cursor(cursor)
        query = query.where(or_(
            Record.created_at < created_at,
            and_(Record.created_at == created_at, Record.id < record_id),
        ))
    query = query.order_by(Record.created_at.desc(), Record.id.desc())
    if limit is not None:
        query = query.limit(limit + 1)

    records = list(session.scalars(query))
    next_cursor = None
    if limit is not None and len(records) > limit:
        records = records[:limit]
        next_cursor = encode_cursor(records[-1].created_at, records[-1].id)
    return VideoPage(records=records, next_cursor=next_cursor)


def video_json(record: Record, storage: Storage) -> dict[str, Any]:
    """A record as the API shows it, plus ``videoUrl`` ("" until DONE)."""
    out = record_json(record, storage)
    out.setdefault("videoUrl", "")
    out["sourceImageIds"] = list((record.params or {}).get("source_ids", []))
    return out
