"""Products: upload several at once, a grid of their cutouts, rename, delete.

Cutouts are computed after the upload's response is sent (a background task in
this process), and the grid polls itself while any recent product still shows
its plain thumbnail.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import structlog
from fastapi import APIRouter, BackgroundTasks, File, Form, Request, UploadFile

from lightbox.catalog import service as catalog
from lightbox.db import utcnow
from lightbox.deps import RuntimeDep, SessionDep
from lightbox.errors import BadRequest, LightboxError
from lightbox.media.uploads import default_name, read_upload
from lightbox.runtime import Runtime
from lightbox.web.auth import ViewerDep
from lightbox.web.render import fragment, page, redirect

log = structlog.get_logger(__name__)

router = APIRouter()

# A cutout normally takes about a second; after this long a product without one
# is taken as failed for now, and the grid stops polling for it.
CUTOUT_PATIENCE = dt.timedelta(minutes=2)
MAX_FILES = 20


def _grid_context(session, viewer) -> dict:
    products, _ = catalog.list_products(session, team_id=viewer.team_id)
    cutoff = utcnow() - CUTOUT_PATIENCE
    waiting = any(p.cutout_key is None and p.created_at > cutoff for p in products)
    return {"products": products, "waiting": waiting}


@router.get("/products")
def products_page(request: Request, session: SessionDep, viewer: ViewerDep,
                  added: int = 0):
    return page(request, "pages/products.html", title="Products", added=added,
                errors=[], **_grid_context(session, viewer))


@router.get("/products/grid")
def products_grid(request: Request, session: SessionDep, viewer: ViewerDep):
    return fragment(request, "fragments/product_grid.html",
                    **_grid_context(session, viewer))


# Limitation: the cutouts run in this process after the response; if it stops
# first, the product shows its photo until its first shoot computes the cutout
# (catalog.service.product_cutout). A queued task would survive restarts.
def compute_cutouts(runtime: Runtime, team_id: str, product_ids: list[str]) -> None:
    """Cut the new products out once, so the grid and the first shoot need not."""
    for product_id in product_ids:
        try:
            with runtime.db.session() as session:
                product = catalog.get_product(session, team_id=team_id,
                                              product_id=product_id)
                catalog.product_cutout(session, runtime.storage, runtime.engine,
                                       product)
        except Exception as exc:  # noqa: BLE001 - the shoot computes it later
            log.warning("web.cutout_failed", product_id=product_id,
                        error=type(exc).__name__)


@router.post("/products")
def upload_products(
    request: Request, session: SessionDep, runtime: RuntimeDep, viewer: ViewerDep,
    background: BackgroundTasks,
    files: Annotated[list[UploadFile] | None, File()] = None,
):
    """Add every valid file as a product; the others are listed with the reason."""
    settings = runtime.settings
    files = [f for f in files or () if getattr(f, "filename", "")]
    errors: list[str] = []
    if not files:
        errors.append("files: choose at least one image")
    if len(files) > MAX_FILES:
        errors.append(f"files: at most {MAX_FILES} at a time")
        files = []

    added = 0
    to_cut: list[str] = []
    for upload in files:
        try:
            image = read_upload(upload, field="file",
                                max_bytes=settings.max_upload_bytes,
                                max_pixels=settings.max_upload_pixels)
            product = catalog.add_product(
                session, runtime.storage, team_id=viewer.team_id, upload=image,
                name=default_name(upload.filename, fallback="Product"),
            )
        except LightboxError as exc:
            errors.append(f"{upload.filename}: {exc.message.removeprefix('file: ')}")
            continue
        added += 1
        if product.cutout_key is None:
            to_cut.append(product.id)

    if to_cut:
        background.add_task(compute_cutouts, runtime, viewer.team_id, to_cut)
    if errors:
        return page(request, "pages/products.html", status=400, title="Products",
                    added=added, errors=errors, **_grid_context(session, viewer))
    return redirect(request, f"/products?added={added}")


@router.post("/products/{product_id}/rename")
def rename_product(request: Request, session: SessionDep, viewer: ViewerDep,
                   product_id: str, name: Annotated[str, Form()] = ""):
    try:
        catalog.rename_product(session, team_id=viewer.team_id,
                               product_id=product_id, name=name)
    except BadRequest as exc:
        return page(request, "pages/products.html", status=400, title="Products",
                    added=0, errors=[], rename_errors={product_id: exc.message},
                    **_grid_context(session, viewer))
    return redirect(request, "/products")


@router.post("/products/{product_id}/delete")
def delete_product(request: Request, session: SessionDep, viewer: ViewerDep,
                   product_id: str):
    catalog.delete_product(session, team_id=viewer.team_id, product_id=product_id)
    return redirect(request, "/products")
