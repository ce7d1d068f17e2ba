"""Products and presets over HTTP (paths relative to ``/api/external``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile

from lightbox.accounts.auth import ApiPrincipal, require_scope
from lightbox.catalog import service
from lightbox.catalog.models import Preset, Product
from lightbox.catalog.schemas import (
    UPLOAD_ERRORS,
    PresetList,
    PresetSaved,
    PresetUpdate,
    ProductCreated,
    ProductList,
    Success,
)
from lightbox.db import isoformat
from lightbox.deps import RuntimeDep, SessionDep
from lightbox.media.storage import Storage
from lightbox.media.uploads import UploadedImage, default_name, read_upload

router = APIRouter()

Reader = Annotated[ApiPrincipal, Depends(require_scope("content.read"))]
Writer = Annotated[ApiPrincipal, Depends(require_scope("content.register"))]


def product_out(product: Product, storage: Storage) -> dict[str, Any]:
    return {
        "id": product.id,
        "name": product.name,
        "thumbnail": storage.url(product.thumb_key),
        "status": product.status,
        "createdAt": isoformat(product.created_at),
        "imageUrl": storage.url(product.original_key),
        "width": product.width,
        "height": product.height,
    }


def preset_out(preset: Preset, storage: Storage) -> dict[str, Any]:
    out = {
        "id": preset.id,
        "name": preset.name,
        "guidelines": preset.guidelines,
        "quantityGuidelines": preset.quantity_guidelines,
        "qualityGuidelines": preset.quality_guidelines,
        "createdAt": isoformat(preset.created_at),
        "system": preset.is_system,
        "galleryUrls": [storage.url(key) for key in preset.gallery_keys or []],
    }
    if preset.cover_key:
        out["coverUrl"] = storage.url(preset.cover_key)
    return out


def _present(upload: UploadFile | str | None) -> UploadFile | str | None:
    """None for a file input left empty (browsers send a nameless empty part)."""
    if isinstance(upload, UploadFile) and not upload.filename and not upload.size:
        return None
    return upload


def _read_image(
    upload: UploadFile | str | None, runtime, *, field: str
) -> UploadedImage:
    return read_upload(
        upload, field=field, max_bytes=runtime.settings.max_upload_bytes,
        max_pixels=runtime.settings.max_upload_pixels,
    )


@router.get("/products", response_model=ProductList,
            response_model_exclude_none=True, summary="List products")
def list_products(
    principal: Reader, session: SessionDep, runtime: RuntimeDep,
    limit: Annotated[int | None, Query(description="Page size, 1..1000.")] = None,
    cursor: Annotated[str | None, Query(description="`nextCursor` of the "
                                        "previous page.")] = None,
) -> dict[str, Any]:
    """The team's uploaded products, newest first."""
    products, next_cursor = service.list_products(
        session, team_id=principal.team_id, limit=limit, cursor=cursor
    )
    body: dict[str, Any] = {
        "products": [product_out(p, runtime.storage) for p in products],
        "count": len(products),
    }
    if next_cursor:
        body["nextCursor"] = next_cursor
    return body


@router.post("/products", response_model=ProductCreated, summary="Upload a product",
             responses=UPLOAD_ERRORS)
def upload_product(
    principal: Writer, session: SessionDep, runtime: RuntimeDep,
    file: Annotated[UploadFile | None, File(description="JPEG, PNG or WebP; a "
                                            "PNG's alpha is the cutout.")] = None,
    name: Annotated[str | None, Form(description="Defaults to the file name.")] = None,
) -> dict[str, Any]:
    """Upload a product photo (multipart); free of charge."""
    upload = _read_image(_present(file), runtime, field="file")
    product = service.add_product(
        session, runtime.storage, team_id=principal.team_id, upload=upload,
        name=(name or "").strip() or default_name(upload.filename, fallback="Product"),
    )
    return {"product": product_out(product, runtime.storage)}


@router.delete("/products/{id}", response_model=Success, summary="Delete a product")
def delete_product(id: str, principal: Writer, session: SessionDep) -> dict:
    """Remove a product from lists; records generated from it stay."""
    service.delete_product(session, team_id=principal.team_id, product_id=id)
    return {"success": True}


@router.get("/presets", response_model=PresetList,
            response_model_exclude_none=True, summary="List presets")
def list_presets(
    principal: Reader, session: SessionDep, runtime: RuntimeDep,
    maxRecords: Annotated[int, Query(description="1..100.")] = 20,
) -> dict[str, Any]:
    """The team's presets (newest first), then the system presets."""
    presets = service.list_presets(
        session, team_id=principal.team_id, max_records=maxRecords
    )
    return {
        "presets": [preset_out(p, runtime.storage) for p in presets],
        "count": len(presets),
    }


@router.post("/presets", response_model=PresetSaved, summary="Create a preset",
             responses=UPLOAD_ERRORS)
def create_preset(
    principal: Writer, session: SessionDep, runtime: RuntimeDep,
    name: Annotated[str | None, Form()] = None,
    quantityGuidelines: Annotated[str | None, Form()] = None,
    qualityGuidelines: Annotated[str | None, Form()] = None,
    cover: Annotated[UploadFile | None, File()] = None,
    gallery: Annotated[list[UploadFile] | None, File()] = None,
) -> dict[str, Any]:
    """Create a team preset (multipart); `cover` and `gallery` are optional photos."""
    # The text fields first: a missing name is a 400 before any photo is decoded.
    uploads = [item for item in (gallery or []) if _present(item) is not None]
    service.check_preset_form(
        name=name, quantity_guidelines=quantityGuidelines,
        quality_guidelines=qualityGuidelines, gallery_count=len(uploads),
    )
    cover_upload = _present(cover)
    cover_image = (
        _read_image(cover_upload, runtime, field="cover") if cover_upload else None
    )
    gallery_images = [_read_image(item, runtime, field="gallery") for item in uploads]

    preset = service.create_preset(
        session, runtime.storage, team_id=principal.team_id, name=name,
        quantity_guidelines=quantityGuidelines, quality_guidelines=qualityGuidelines,
        cover=cover_image, gallery=gallery_images,
    )
    return {"success": True, "presetId": preset.id}


@router.post("/presets/update-preset", response_model=PresetSaved,
             summary="Update a preset")
def update_preset(
    body: PresetUpdate, principal: Writer, session: SessionDep
) -> dict[str, Any]:
    """Change a team preset's name or guidelines (system presets are read-only)."""
    preset = service.update_preset(
        session, team_id=principal.team_id, preset_id=body.presetId,
        name=body.name, quantity_guidelines=body.quantityGuidelines,
        quality_guidelines=body.qualityGuidelines,
    )
    return {"success": True, "presetId": preset.id}
