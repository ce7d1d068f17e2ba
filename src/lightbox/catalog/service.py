"""Products and presets: creating, finding, listing, changing. Never commits.

Files are written to storage before the row is flushed, under keys that contain
the new id, so a row never points at a missing file; if the transaction then rolls
back, the files it wrote are deleted again.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import structlog
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from lightbox.catalog.models import Preset, Product
from lightbox.db import on_rollback, utcnow
from lightbox.engine import imageio
from lightbox.errors import BadRequest, Forbidden, NotFound
from lightbox.ids import new_id
from lightbox.media import renditions
from lightbox.media.renditions import delete_files
from lightbox.media.storage import Storage
from lightbox.media.uploads import UploadedImage

log = structlog.get_logger(__name__)

MAX_LIST_LIMIT = 1000
MAX_NAME_LENGTH = 200
MAX_PRESET_RECORDS = 100
MAX_GUIDELINES_LENGTH = 5000
MAX_GALLERY = 20


def _delete_on_rollback(session: Session, storage: Storage, keys: list[str]) -> None:
    """Delete the files at ``keys`` if ``session`` rolls back instead of committing."""
    on_rollback(session, partial(delete_files, storage, keys))


def product_name(name: str | None) -> str:
    """A display name on one line; 400 naming ``name`` if empty or too long."""
    text = " ".join((name or "").split())
    if not text:
        raise BadRequest("name: must not be empty")
    if len(text) > MAX_NAME_LENGTH:
        raise BadRequest(f"name: must be at most {MAX_NAME_LENGTH} characters")
    return text


def product_prefix(team_id: str, product_id: str) -> str:
    return f"teams/{team_id}/products/{product_id}"


def cutout_key_for(product: Product) -> str:
    return f"{product_prefix(product.team_id, product.id)}/cutout.png"


# Products -------------------------------------------------------------------


def add_product(
    session: Session, storage: Storage, *, team_id: str, upload: UploadedImage,
    name: str,
) -> Product:
    """Store an uploaded product photo, its thumbnail and (with alpha) its cutout.

    The original is kept byte for byte (it passed validation); a PNG or WebP
    with a real alpha channel is taken as already cut out, so the cutout network
    never runs on it.
    """
    product_id = new_id("prod")
    prefix = product_prefix(team_id, product_id)
    name = product_name(name)

    original_key = renditions.store_bytes(
        storage, f"{prefix}/original{upload.extension}", upload.data,
        upload.content_type,
    )
    thumb_key = renditions.store_bytes(
        storage, f"{prefix}/thumb.jpg", renditions.thumbnail_jpeg(upload.image),
        "image/jpeg",
    )
    cutout_key = None
    if upload.has_alpha:
        cutout_key = renditions.store_bytes(
            storage, f"{prefix}/cutout.png", imageio.encode_png(upload.image),
            "image/png",
        )

    _delete_on_rollback(session, storage,
                        [k for k in (original_key, thumb_key, cutout_key) if k])
    product = Product(
        id=product_id, team_id=team_id, name=name, original_key=original_key,
        thumb_key=thumb_key, cutout_key=cutout_key, width=upload.width,
        height=upload.height,
    )
    session.add(product)
    session.flush()
    log.info("product.added", product_id=product_id, width=upload.width,
             height=upload.height, alpha=upload.has_alpha)
    return product


def get_product(
    session: Session, *, team_id: str, product_id: Any,
    field: str = "config.product.id",
) -> Product:
    """The team's live product; another team's or a deleted one is the same 404."""
    product = None
    if isinstance(product_id, str) and product_id:
        product = session.get(Product, product_id)
    if product is None or product.team_id != team_id or product.deleted_at:
        raise NotFound(f"Product not found: {field}")
    return product


def encode_cursor(created_at: dt.datetime, row_id: str) -> str:
    raw = f"{created_at.astimezone(dt.UTC).isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, *, field: str = "cursor") -> tuple[dt.datetime, str]:
    """The (created_at, id) a cursor points after; 400 naming ``field`` if bad."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode()).decode()
        stamp, row_id = raw.split("|", 1)
        created_at = dt.datetime.fromisoformat(stamp)
    except (ValueError, UnicodeError, binascii.Error):
        raise BadRequest(f"{field}: not a cursor from this list") from None
    if created_at.tzinfo is None or not row_id:
        raise BadRequest(f"{field}: not a cursor from this list")
    return created_at, row_id


def check_limit(value: int | None, *, field: str, maximum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not (
        1 <= value <= maximum
    ):
        raise BadRequest(f"{field}: must be an integer between 1 and {maximum}")
    return value


def list_products(
    session: Session, *, team_id: str, limit: int | None = None,
    cursor: str | None = None,
) -> tuple[list[Product], str | None]:
    """The team's live products, newest first, and the cursor of the next page.

    Keyset pagination on (created_at, id): a page costs the same however deep,
    and rows added meanwhile never shift a page.
    """
    limit = check_limit(limit, field="limit", maximum=MAX_LIST_LIMIT)
    query = (
        select(Product)
        .where(Product.team_id == team_id, Product.deleted_at.is_(None))
        .order_by(Product.created_at.desc(), Product.id.desc())
    )
    if cursor:
        created_at, row_id = decode_cursor(cursor)
        query = query.where(or_(
            Product.created_at < created_at,
            and_(Product.created_at == created_at, Product.id < row_id),
        ))
    if limit is not None:
        query = query.limit(limit + 1)

    products = list(session.scalars(query))
    if limit is None or len(products) <= limit:
        return products, None
    products = products[:limit]
    last = products[-1]
    return products, encode_cursor(last.created_at, last.id)


def delete_product(
    session: Session, *, team_id: str, product_id: str, field: str = "id"
) -> Product:
    """Hide a product from lists and new orders; its files stay for old records."""
    product = get_product(session, team_id=team_id, product_id=product_id,
                          field=field)
    product.deleted_at = utcnow()
    session.flush()
    log.info("product.deleted", product_id=product.id)
    return product


def product_cutout(
    session: Session, storage: Storage, engine: Any, product: Product
) -> np.ndarray:
    """The product's RGBA cutout: computed by ``engine.cutout`` once, then loaded.

    The cutout lives at a fixed key, so a second worker that computed it at the
    same time overwrites the same file with the same bytes.
    """
    for key in (product.cutout_key, cutout_key_for(product)):
        if key and storage.exists(key):
            if product.cutout_key != key:
                product.cutout_key = key
                session.flush()
            return imageio.as_rgba(renditions.load_image(storage, key))

    image = renditions.load_image(storage, product.original_key)
    rgba = imageio.as_rgba(engine.cutout(image))
    key = renditions.store_bytes(
        storage, cutout_key_for(product), imageio.encode_png(rgba), "image/png"
    )
    product.cutout_key = key
    session.flush()
    log.info("product.cutout_computed", product_id=product.id)
    return rgba


# Presets --------------------------------------------------------------------


def combine_guidelines(quality: str, quantity: str) -> str:
    """The text the renderer reads: the quality guidelines, then the quantity."""
    return "\n\n".join(part.strip() for part in (quality, quantity) if part.strip())


def get_preset(
    session: Session, *, team_id: str, preset_id: Any,
    field: str = "config.preset.id",
) -> Preset:
    """A system preset or one of the team's; anything else is a 404."""
    preset = None
    if isinstance(preset_id, str) and preset_id:
        preset = session.get(Preset, preset_id)
    if preset is None or (preset.team_id is not None and preset.team_id != team_id):
        raise NotFound(f"Preset not found: {field}")
    return preset


def list_presets(
    session: Session, *, team_id: str, max_records: int = 20
) -> list[Preset]:
    """The team's presets and the system ones, newest first by ``created_at``.

    System presets carry fixed creation times in the past, so the team's own
    always come first and the system ones follow in their shipped order.
    """
    check_limit(max_records, field="maxRecords", maximum=MAX_PRESET_RECORDS)
    query = (
        select(Preset)
        .where(or_(Preset.team_id == team_id, Preset.team_id.is_(None)))
        .order_by(Preset.created_at.desc(), Preset.id.desc())
        .limit(max_records)
    )
    return list(session.scalars(query))


def _required_text(value: str | None, *, field: str, max_length: int) -> str:
    text = (value or "").strip()
    if not text:
        raise BadRequest(f"{field}: required")
    if len(text) > max_length:
        raise BadRequest(f"{field}: must be at most {max_length} characters")
    return text


def _store_reference(
    storage: Storage, *, key_base: str, upload: UploadedImage
) -> str:
    return renditions.store_bytes(
        storage, f"{key_base}{upload.extension}", upload.data, upload.content_type
    )


def check_preset_form(
    *, name: str | None, quantity_guidelines: str | None,
    quality_guidelines: str | None, gallery_count: int = 0,
) -> tuple[str, str, str]:
    """The trimmed (name, quantity, quality) or a 400 naming the first bad field.

    Cheap, so the route runs it before decoding any uploaded photo.
    """
    name = _required_text(name, field="name", max_length=MAX_NAME_LENGTH)
    quantity = _required_text(quantity_guidelines, field="quantityGuidelines",
                              max_length=MAX_GUIDELINES_LENGTH)
    quality = _required_text(quality_guidelines, field="qualityGuidelines",
                             max_length=MAX_GUIDELINES_LENGTH)
    if gallery_count > MAX_GALLERY:
        raise BadRequest(f"gallery: at most {MAX_GALLERY} files")
    return name, quantity, quality


def create_preset(
    session: Session, storage: Storage, *, team_id: str, name: str | None,
    quantity_guidelines: str | None, quality_guidelines: str | None,
    cover: UploadedImage | None = None, gallery: Sequence[UploadedImage] = (),
) -> Preset:
    """A team preset; ``cover`` and ``gallery`` are reference photos, kept as sent."""
    name, quantity, quality = check_preset_form(
        name=name, quantity_guidelines=quantity_guidelines,
        quality_guidelines=quality_guidelines, gallery_count=len(gallery),
    )

    preset_id = new_id("preset")
    prefix = f"teams/{team_id}/presets/{preset_id}"
    cover_key = None
    if cover is not None:
        cover_key = _store_reference(storage, key_base=f"{prefix}/cover",
                                     upload=cover)
    gallery_keys = [
        _store_reference(storage, key_base=f"{prefix}/gallery-{i:02d}", upload=item)
        for i, item in enumerate(gallery)
    ]
    _delete_on_rollback(session, storage, [k for k in [cover_key, *gallery_keys] if k])

    preset = Preset(
        id=preset_id, team_id=team_id, name=name,
        guidelines=combine_guidelines(quality, quantity),
        quantity_guidelines=quantity, quality_guidelines=quality,
        cover_key=cover_key, gallery_keys=gallery_keys,
    )
    session.add(preset)
    session.flush()
    log.info("preset.created", preset_id=preset_id, gallery=len(gallery_keys))
    return preset


def update_preset(
    session: Session, *, team_id: str, preset_id: str, name: str | None = None,
    quantity_guidelines: str | None = None, quality_guidelines: str | None = None,
) -> Preset:
    """Change the given fields of a team's preset; system presets are read-only.

    The fields are checked before the id, as for every endpoint (400, then 404).
    """
    changes: dict[str, str] = {}
    if name is not None:
        changes["name"] = _required_text(name, field="name", max_length=MAX_NAME_LENGTH)
    if quantity_guidelines is not None:
        changes["quantity_guidelines"] = _required_text(
            quantity_guidelines, field="quantityGuidelines",
            max_length=MAX_GUIDELINES_LENGTH,
        )
    if quality_guidelines is not None:
        changes["quality_guidelines"] = _required_text(
            quality_guidelines, field="qualityGuidelines",
            max_length=MAX_GUIDELINES_LENGTH,
        )

    preset = get_preset(session, team_id=team_id, preset_id=preset_id,
                        field="presetId")
    if preset.is_system:
        raise Forbidden("System presets cannot be changed: presetId")

    for attribute, value in changes.items():
        setattr(preset, attribute, value)
    preset.guidelines = combine_guidelines(
        preset.quality_guidelines, preset.quantity_guidelines
    )
    session.flush()
    log.info("preset.updated", preset_id=preset.id, fields=sorted(changes))
    return preset


def rename_product(
    session: Session, *, team_id: str, product_id: str, name: str | None,
    field: str = "id",
) -> Product:
    """Give the team's product a new display name (records keep their old names).

    The name is checked before the id (400 before 404), as everywhere.
    """
    name = product_name(name)
    product = get_product(session, team_id=team_id, product_id=product_id,
                          field=field)
    product.name = name
    session.flush()
    log.info("product.renamed", product_id=product.id)
    return product
