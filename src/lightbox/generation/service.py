"""Registering orders, listing and voting on records, reading orders back.

Every function takes the team it acts for: another team's ids are NotFound, never
Forbidden, so ids cannot be probed. Nothing here commits; renders are enqueued
with ``on_commit`` so a rolled-back registration enqueues nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import structlog
from sqlalchemy import String, and_, false, or_, select, true, type_coerce
from sqlalchemy.orm import Session

from lightbox import metrics
from lightbox.catalog import service as catalog
from lightbox.credits import service as credits
from lightbox.credits.models import Reservation
from lightbox.db import on_commit, on_rollback, utcnow
from lightbox.engine.imageio import as_rgb
from lightbox.errors import BadRequest, NotFound
from lightbox.generation.models import (
    APPROVED,
    DONE,
    FAILED,
    INPROGRESS,
    RECORD_PREFIX,
    REJECTED,
    Order,
    Record,
)
from lightbox.generation.schemas import (
    IdeasRequest,
    PackshotRequest,
    ShootRequest,
)
from lightbox.generation.serialize import LIST_COLUMNS, raw_datetime
from lightbox.ids import new_id
from lightbox.media.renditions import StoredImage, delete_files, store_image
from lightbox.media.storage import Storage
from lightbox.media.uploads import UploadedImage

log = structlog.get_logger(__name__)

STATUS_FILTERS = ("all", "approved", "rejected")
MAX_LIMIT = 1000
_SEED_BITS = 48
_KIND_NAMES = {"model": "Model", "scenery": "Scenery"}


class Enqueuer(Protocol):
    def enqueue(self, record_id: str, *, request_id: str | None = None) -> None: ...


@dataclass(frozen=True)
class Registration:
    order: Order
    records: list[Record]


@dataclass(frozen=True)
class Page:
    # Rows of LIST_COLUMNS; created_at is raw (serialize.raw_datetime reads it).
    rows: Sequence[Any]
    next_cursor: str | None


@dataclass(frozen=True)
class OrderView:
    order: Order
    records: list[Record]
    status: str
    reserved: int
    consumed: int
    released: int


# Registration ------------------------------------------------------------------


def derived_seed(record_id: str) -> int:
    """A stable seed for a record registered without ``config.seed``."""
    digest = hashlib.sha256(b"lightbox.record-seed\n" + record_id.encode()).digest()
    return int.from_bytes(digest[: _SEED_BITS // 8], "big")


def title_from(preferences: str, *, max_chars: int = 40) -> str:
    """A short human title from free text: its first phrase, a few words long."""
    phrase = re.split(r"[,.;:!?\n]", preferences.strip(), maxsplit=1)[0]
    words = phrase.split()[:6]
    title = ""
    for word in words:
        if len(title) + len(word) + 1 > max_chars:
            break
        title = f"{title} {word}".strip()
    title = title or preferences.strip()[:max_chars].strip()
    return title[:1].upper() + title[1:]


def usable_record(
    session: Session, *, team_id: str, kind: str, record_id: str, field: str
) -> Record:
    """A DONE record of ``kind`` owned by the team, else NotFound naming ``field``.

    A rejected (archived) but DONE model or scenery stays usable: rejecting hides
    it from lists, it does not break orders that name it explicitly.
    """
    record = session.get(Record, record_id)
    if (
        record is None
        or record.team_id != team_id
        or record.kind != kind
        or record.status != DONE
    ):
        raise NotFound(f"{_KIND_NAMES[kind]} not found: {field}")
    return record


def register(
    session: Session,
    *,
    team_id: str,
    kind: str,
    body: IdeasRequest | PackshotRequest | ShootRequest,
    price_each: int,
    queue: Enqueuer,
    request_id: str | None = None,
) -> Registration:
    """Check the referenced ids, reserve the credits, create the order and records.

    The body is already validated (400s); this raises NotFound for ids, then
    InsufficientCredits, before anything is written, and enqueues one render per
    record once the caller commits.
    """
    names, params = _resolve_inputs(session, team_id=team_id, kind=kind, body=body)
    count = body.count
    total = price_each * count

    order = Order(
        id=new_id("ord"),
        team_id=team_id,
        kind=kind,
        batch_id=new_id("batch"),
        count=count,
        price_each=price_each,
        credits_reserved=total,
        config=body.model_dump(mode="json", exclude_none=True),
        request_id=request_id,
    )
    # The order goes in first so a reservation may reference it; a 402 raised by
    # reserve() rolls the whole request back, the order with it.
    session.add(order)
    reservation = credits.reserve(
        session, team_id=team_id, amount=total, order_id=order.id
    )
    order.reservation_id = reservation.id

    records = _new_records(
        order, names=names, params=params, config_seed=_config_seed(body)
    )
    session.add_all(records)
    session.flush()

    for record in records:
        on_commit(session, partial(queue.enqueue, record.id, request_id=request_id))
    on_commit(session, metrics.orders.labels(kind=kind).inc)
    log.info(
        "order.registered", order_id=order.id, kind=kind, count=count,
        credits=total, team_id=team_id,
    )
    return Registration(order=order, records=records)


def _config_seed(body: Any) -> int | None:
    config = getattr(body, "config", None)
    return getattr(config, "seed", None)


def _resolve_inputs(
    session: Session, *, team_id: str, kind: str, body: Any
) -> tuple[str, dict[str, Any]]:
    """The base name of the records and the params they share, after the 404s."""
    if kind in ("model", "scenery"):
        return title_from(body.preferences), {"preferences": body.preferences}

    config = body.config
    product = catalog.get_product(
        session, team_id=team_id, product_id=config.product.id,
        field="config.product.id",
    )
    params: dict[str, Any] = {"product_id": product.id}

    for ref_kind in ("model", "scenery"):
        ref = getattr(config, ref_kind)
        params[f"{ref_kind}_id"] = None
        if ref is not None:
            params[f"{ref_kind}_id"] = usable_record(
                session, team_id=team_id, kind=ref_kind, record_id=ref.id,
                field=f"config.{ref_kind}.id",
            ).id

    params["preset_id"] = None
    if config.preset is not None:
        params["preset_id"] = catalog.get_preset(
            session, team_id=team_id, preset_id=config.preset.id,
            field="config.preset.id",
        ).id

    if kind == "image":
        params["industry"] = (config.industry or "").strip()
        params["suggestions"] = (config.suggestions or "").strip()
    return product.name, params


def _new_records(
    order: Order, *, names: str, params: dict[str, Any], config_seed: int | None
) -> list[Record]:
    prefix = RECORD_PREFIX[order.kind]
    # One microsecond apart, so the records sort by variant everywhere (lists,
    # orders, cursors) rather than by their random ids when a clock repeats.
    created = utcnow()
    records = []
    for variant in range(order.count):
        record_id = new_id(prefix)
        seed = config_seed + variant if config_seed is not None else None
        records.append(
            Record(
                id=record_id,
                team_id=order.team_id,
                order_id=order.id,
                kind=order.kind,
                name=f"{names} — Variant {variant + 1}",
                status=INPROGRESS,
                product_id=params.get("product_id"),
                params={
                    **params,
                    "seed": derived_seed(record_id) if seed is None else seed,
                    "variant": variant,
                },
                price=order.price_each,
                layers={},
                meta={},
                created_at=created + dt.timedelta(microseconds=variant),
            )
        )
    return records


# Lists -------------------------------------------------------------------------


def encode_cursor(created_at: dt.datetime, record_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), record_id]).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, record_id = json.loads(raw)
        created_at = dt.datetime.fromisoformat(stamp)
        if created_at.tzinfo is None or not isinstance(record_id, str):
            raise ValueError(cursor)
    except (ValueError, TypeError):
        raise BadRequest("cursor: invalid (pass nextCursor back unchanged)") from None
    return created_at, record_id


def parse_status_filter(value: str | None) -> str:
    if value is None or value == "":
        return "all"
    if value not in STATUS_FILTERS:
        raise BadRequest("statusFilter: must be one of all, approved, rejected")
    return value


def parse_limit(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not re.fullmatch(r"[0-9]{1,7}", value) or not 1 <= int(value) <= MAX_LIMIT:
        raise BadRequest(f"limit: must be an integer between 1 and {MAX_LIMIT}")
    return int(value)


def list_records(
    session: Session,
    *,
    team_id: str,
    kind: str,
    status_filter: str = "all",
    product_id: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """One team's records of one kind, newest first, as rows of LIST_COLUMNS.

    One indexed query: (team_id, kind, archived, created_at, id) serves the
    filters, the order and the keyset cursor; productId uses its own index. It
    is written against the table, not the ORM class: a Core statement skips the
    ORM's per-row loading, which matters at ten thousand rows.
    """
    c = Record.__table__.c
    query = select(*_list_columns()).where(c.team_id == team_id, c.kind == kind)

    # "= true/false", not "IS": PostgreSQL only uses an index for equality.
    archived = true() if status_filter == "rejected" else false()
    query = query.where(c.archived == archived)
    if status_filter == "approved":
        query = query.where(c.voting == APPROVED)
    if product_id is not None:
        query = query.where(c.product_id == product_id)

    if cursor:
        created_at, record_id = decode_cursor(cursor)
        query = query.where(
            or_(
                c.created_at < created_at,
                and_(c.created_at == created_at, c.id < record_id),
            )
        )
    query = query.order_by(c.created_at.desc(), c.id.desc())
    if limit is not None:
        query = query.limit(limit + 1)

    rows = session.execute(query).all()
    next_cursor = None
    if limit is not None and len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(raw_datetime(rows[-1].created_at), rows[-1].id)
    return Page(rows=rows, next_cursor=next_cursor)


def _list_columns() -> list[Any]:
    # created_at comes back raw (see serialize.raw_datetime): parsing ten
    # thousand timestamps only to print them again is a third of a list's time.
    table = Record.__table__
    return [
        type_coerce(table.c[name], String).label(name) if name == "created_at"
        else table.c[name]
        for name in LIST_COLUMNS
    ]


# Voting ------------------------------------------------------------------------


def get_record(session: Session, *, team_id: str, record_id: str,
               field: str = "recordId") -> Record:
    record = session.get(Record, record_id)
    if record is None or record.team_id != team_id:
        raise NotFound(f"Record not found: {field}")
    return record


def vote(session: Session, *, team_id: str, record_id: str, voting: str) -> Record:
    """Approve or reject any of the team's records; rejecting archives it.

    Only a DONE record can be approved (there is nothing to look at before); a
    FAILED record may be rejected, which archives it out of the ``all`` list.
    """
    record = get_record(session, team_id=team_id, record_id=record_id)
    if record.status == INPROGRESS:
        raise BadRequest("recordId: record is not DONE yet")
    if record.status == FAILED and voting == APPROVED:
        raise BadRequest("recordId: a FAILED record cannot be approved")

    record.voting = voting
    record.archived = voting == REJECTED
    session.flush()
    log.info("record.voted", record_id=record.id, voting=voting, team_id=team_id)
    return record


# Uploads -----------------------------------------------------------------------


def upload_model(
    session: Session, storage: Storage, *, team_id: str, upload: UploadedImage,
    name: str,
) -> Record:
    """The team's own model photo as a DONE, APPROVED model record (free).

    Only the photo is stored; the renderer derives the figure (cut-out and
    keypoints) the first time a shoot uses it and caches it in ``meta``.
    """
    record_id = new_id(RECORD_PREFIX["model"])
    stored = store_image(
        storage, prefix=f"teams/{team_id}/models/{record_id}/photo",
        image=upload.image, alpha=upload.has_alpha,
    )
    return _uploaded_record(
        session, storage, record_id=record_id, team_id=team_id, kind="model",
        name=name, upload=upload, stored=stored, meta={},
    )


def upload_scenery(
    session: Session, storage: Storage, engine: Any, *, team_id: str,
    upload: UploadedImage, name: str,
) -> Record:
    """The team's own background as a DONE, APPROVED scenery record (free).

    The floor line, horizon and light direction the compositor needs are
    estimated from the photo now and kept in ``meta`` (``Scenery.to_meta()``).
    """
    rgb = as_rgb(upload.image)
    scenery = engine.scenery_from_photo(rgb)
    record_id = new_id(RECORD_PREFIX["scenery"])
    stored = store_image(
        storage, prefix=f"teams/{team_id}/sceneries/{record_id}/photo",
        image=scenery.image,
    )
    return _uploaded_record(
        session, storage, record_id=record_id, team_id=team_id, kind="scenery",
        name=name, upload=upload, stored=stored, meta=scenery.to_meta(),
    )


def _uploaded_record(
    session: Session, storage: Storage, *, record_id: str, team_id: str, kind: str,
    name: str, upload: UploadedImage, stored: StoredImage, meta: dict[str, Any],
) -> Record:
    # The files are written before the row commits: if it never does, they go.
    on_rollback(session,
                partial(delete_files, storage, [stored.key, stored.thumb_key]))
    record = Record(
        id=record_id,
        team_id=team_id,
        order_id=None,
        kind=kind,
        name=name,
        status=DONE,
        voting=APPROVED,
        archived=False,
        params={"source": "upload", "format": upload.format,
                "width": upload.width, "height": upload.height},
        price=0,
        image_key=stored.key,
        thumb_key=stored.thumb_key,
        layers={},
        meta=meta,
        settled=True,
        finished_at=utcnow(),
    )
    session.add(record)
    session.flush()
    log.info("record.uploaded", record_id=record_id, kind=kind, team_id=team_id)
    return record


# Orders ------------------------------------------------------------------------


def order_status(statuses: Sequence[str]) -> str:
    """INPROGRESS until every record settles; then DONE, FAILED or PARTIAL."""
    if not statuses or INPROGRESS in statuses:
        return INPROGRESS
    if all(status == DONE for status in statuses):
        return DONE
    if all(status == FAILED for status in statuses):
        return FAILED
    return "PARTIAL"


def get_order(session: Session, *, team_id: str, order_id: str) -> OrderView:
    order = session.get(Order, order_id)
    if order is None or order.team_id != team_id:
        raise NotFound("Order not found: orderId")

    records = list(
        session.scalars(
            select(Record)
            .where(Record.order_id == order.id)
            .order_by(Record.created_at, Record.id)
        )
    )
    reservation = (
        session.get(Reservation, order.reservation_id)
        if order.reservation_id else None
    )
    return OrderView(
        order=order,
        records=records,
        status=order_status([record.status for record in records]),
        reserved=reservation.amount if reservation else order.credits_reserved,
        consumed=reservation.consumed if reservation else 0,
        released=reservation.released if reservation else 0,
    )

