"""The image picker: a large view over an order's or a product's results, votes
by button or keyboard (static/picker.js), and the approved images as a ZIP.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, StreamingResponse
from PIL import Image

from lightbox.catalog import service as catalog
from lightbox.deps import RuntimeDep, SessionDep
from lightbox.errors import BadRequest, LightboxError
from lightbox.generation import review
from lightbox.generation import service as generation
from lightbox.generation.models import APPROVED, DONE, INPROGRESS
from lightbox.media.storage import Storage
from lightbox.web.auth import ViewerDep
from lightbox.web.render import page

log = structlog.get_logger(__name__)

router = APIRouter()

SHOWN = ("all", "approved", "rejected")
RESULT_KINDS = ("image", "packshot")


def _records(session, viewer, *, order: str, product: str, shown: str) -> list:
    """The records under review, oldest first, filtered like the API's lists."""
    if order:
        records = generation.get_order(session, team_id=viewer.team_id,
                                       order_id=order).records
        if shown == "rejected":
            return [r for r in records if r.archived]
        records = [r for r in records if not r.archived]
        if shown == "approved":
            records = [r for r in records if r.voting == APPROVED]
        return records

    product_id = None
    if product:
        product_id = catalog.get_product(session, team_id=viewer.team_id,
                                         product_id=product, field="product").id
    rows = []
    for kind in RESULT_KINDS:
        rows += generation.list_records(session, team_id=viewer.team_id, kind=kind,
                                        status_filter=shown,
                                        product_id=product_id).rows
    return sorted(rows, key=lambda row: (str(row.created_at), row.id))


@router.get("/picker")
def picker_page(request: Request, session: SessionDep, viewer: ViewerDep,
                order: str = "", product: str = "", shown: str = "all",
                record: str = ""):
    shown = shown if shown in SHOWN else "all"
    records = _records(session, viewer, order=order, product=product, shown=shown)
    scope = f"order={order}" if order else (f"product={product}" if product else "")
    products, _ = catalog.list_products(session, team_id=viewer.team_id)
    product_name = next((p.name for p in products if p.id == product), "")
    start = next((i for i, r in enumerate(records) if r.id == record), 0)
    return page(
        request, "pages/picker.html", title="Image picker", records=records,
        order=order, product=product, product_name=product_name, shown=shown,
        scope=scope, products=products, start=start,
        busy=any(r.status == INPROGRESS for r in records),
        approved=sum(1 for r in records if r.voting == APPROVED),
    )


@router.post("/picker/vote")
def picker_vote(session: SessionDep, viewer: ViewerDep,
                record_id: Annotated[str, Form()] = "",
                voting: Annotated[str, Form()] = ""):
    """Vote from the picker's script; JSON both ways so the page need not reload."""
    try:
        if voting == "NONE":
            record = review.clear_vote(session, team_id=viewer.team_id,
                                       record_id=record_id)
        elif voting in ("APPROVED", "REJECTED"):
            record = generation.vote(session, team_id=viewer.team_id,
                                     record_id=record_id, voting=voting)
        else:
            raise BadRequest("voting: must be APPROVED, REJECTED or NONE")
    except LightboxError as exc:
        session.rollback()
        return JSONResponse({"error": exc.message}, status_code=exc.status_code)
    return JSONResponse({"recordId": record.id, "voting": record.voting})


def _file_name(name: str, record_id: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:60]
    return f"{slug or 'image'}_{record_id}.jpg"


def _jpeg(data: bytes, key: str) -> bytes:
    """The stored full-size image as a JPEG (PNGs with alpha go on white)."""
    if key.lower().endswith((".jpg", ".jpeg")):
        return data
    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGBA")
        flat = Image.new("RGB", image.size, (255, 255, 255))
        flat.paste(image, mask=image.getchannel("A"))
        out = io.BytesIO()
        flat.save(out, format="JPEG", quality=95)
        return out.getvalue()


class _Sink(io.RawIOBase):
    """A write-only, unseekable buffer that zipfile streams into."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


def zip_stream(storage: Storage, items: list[tuple[str, str]]) -> Iterator[bytes]:
    """A ZIP of (file name, media key) pairs, one file's bytes in memory at a time.

    JPEGs do not compress further, so they are stored; an unseekable sink makes
    zipfile write data descriptors, so nothing has to be rewound.
    """
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, key in items:
            archive.writestr(name, _jpeg(storage.get(key), key))
            yield sink.take()
    yield sink.take()


@router.get("/picker/download.zip")
def download_zip(session: SessionDep, runtime: RuntimeDep, viewer: ViewerDep,
                 order: str = "", product: str = ""):
    """The approved, finished images in scope, full resolution, named by record."""
    records = _records(session, viewer, order=order, product=product,
                       shown="approved")
    items = [(_file_name(r.name, r.id), r.image_key) for r in records
             if r.status == DONE and r.image_key]
    if not items:
        raise BadRequest("There are no approved images to download yet.")

    scope = order or product or "all"
    log.info("web.zip_download", team_id=viewer.team_id, files=len(items))
    return StreamingResponse(
        zip_stream(runtime.storage, items), media_type="application/zip",
        headers={"Content-Disposition":
                 f'attachment; filename="lightbox-approved-{scope}.zip"',
                 "Cache-Control": "no-store"},
    )
