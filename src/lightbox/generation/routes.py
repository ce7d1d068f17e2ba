"""Generation endpoints: register-ideas, lists, voting, uploads and orders.

Paths are relative to ``/api/external``. JSON bodies are read by ``json_body``
after authentication (a bad key is a 401 even with a broken body) and validated by
``schemas.parse_body`` so that every 400 names its field.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile

from lightbox.accounts.auth import ApiPrincipal, require_scope
from lightbox.db import isoformat
from lightbox.deps import RuntimeDep, SessionDep
from lightbox.errors import BadRequest
from lightbox.generation import service
from lightbox.generation.schemas import (
    IdeasRequest,
    ImageList,
    ModelList,
    ModelUpload,
    OrderOut,
    PackshotList,
    PackshotRequest,
    RegisterResponse,
    SceneryList,
    SceneryUpload,
    ShootRequest,
    VoteResponse,
    parse_body,
    parse_vote,
    request_body_schema,
)
from lightbox.generation.serialize import list_json, record_json
from lightbox.media.uploads import clean_name, default_name, read_upload
from lightbox.runtime import Runtime

router = APIRouter()

Reader = Annotated[ApiPrincipal, Depends(require_scope("content.read"))]
Registrar = Annotated[ApiPrincipal, Depends(require_scope("content.register"))]

StatusFilter = Annotated[
    str | None,
    Query(alias="statusFilter",
          description="all (default: not archived), approved, or rejected"),
]
Limit = Annotated[
    str | None,
    Query(description="(Lightbox) page size, an integer 1..1000; whole list if absent"),
]
Cursor = Annotated[
    str | None, Query(description="(Lightbox) the nextCursor of the previous page")
]

async def json_body(request: Request) -> Any:
    """The request body decoded as JSON (validated by the endpoint, not here)."""
    raw = await request.body()
    if not raw.strip():
        raise BadRequest("body: must be a JSON object")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise BadRequest("body: not valid JSON") from None
    _refuse_nul(body, "")
    return body


def _refuse_nul(value: Any, path: str) -> None:
    """NUL is valid in JSON but not in PostgreSQL text; refuse it on every backend."""
    if isinstance(value, str):
        if "\x00" in value:
            raise BadRequest(f"{path or 'body'}: must not contain NUL characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_nul(item, f"{path}[{index}]")


Body = Annotated[Any, Depends(json_body)]

# Statuses beyond the API-wide ones (api.py documents 400/401/403/404/429).
REGISTER_ERRORS: dict[int | str, dict[str, Any]] = {
    402: {"description": "Not enough credits for the whole order; nothing was "
                         "created or reserved."},
}
UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"description": "The file is too large (bytes or pixels)."},
    415: {"description": "Not a JPEG, PNG or WebP image, or a truncated one."},
}


def request_id(request: Request) -> str | None:
    """The id the request middleware gave this request; it follows the renders."""
    return getattr(request.state, "request_id", None)


def register_response(order, record_ids: list[str]) -> dict[str, Any]:
    """The reply of every ``register-*`` endpoint (API.md section 5)."""
    return {
        "createdRecordIds": record_ids,
        "batchId": order.batch_id,
        "orderId": order.id,
        "reservationId": order.reservation_id,
        "creditsReserved": order.credits_reserved,
    }


def list_response(collection: str, items: list[dict[str, Any]],
                  next_cursor: str | None) -> Response:
    """A list as JSON bytes, built directly: no per-record model validation.

    orjson encodes ten thousand records several times faster than json; the
    rate-limit headers are added by the request middleware.
    """
    payload: dict[str, Any] = {collection: items, "count": len(items)}
    if next_cursor:
        payload["nextCursor"] = next_cursor
    return Response(orjson.dumps(payload), media_type="application/json")


# Register ----------------------------------------------------------------------


def _register(
    kind: str, body: Any, *, principal: ApiPrincipal, session, runtime: Runtime,
    request: Request,
) -> dict[str, Any]:
    schema = {"image": ShootRequest, "packshot": PackshotRequest}.get(
        kind, IdeasRequest
    )
    parsed = parse_body(schema, body)
    registration = service.register(
        session,
        team_id=principal.team_id,
        kind=kind,
        body=parsed,
        price_each=getattr(runtime.settings.prices, kind),
        queue=runtime.queue,
        request_id=request_id(request),
    )
    return register_response(registration.order,
                             [record.id for record in registration.records])


@router.post(
    "/models/register-ideas", response_model=RegisterResponse,
    summary="Order model (mannequin) ideas",
    responses=REGISTER_ERRORS, openapi_extra=request_body_schema(IdeasRequest),
)
def register_models(
    principal: Registrar, body: Body, session: SessionDep, runtime: RuntimeDep,
    request: Request,
) -> dict[str, Any]:
    """Reserve credits and queue `count` mannequins rendered from `preferences`."""
    return _register("model", body, principal=principal, session=session,
                     runtime=runtime, request=request)


@router.post(
    "/sceneries/register-ideas", response_model=RegisterResponse,
    summary="Order scenery ideas",
    responses=REGISTER_ERRORS, openapi_extra=request_body_schema(IdeasRequest),
)
def register_sceneries(
    principal: Registrar, body: Body, session: SessionDep, runtime: RuntimeDep,
    request: Request,
) -> dict[str, Any]:
    """Reserve credits and queue `count` backgrounds rendered from `preferences`."""
    return _register("scenery", body, principal=principal, session=session,
                     runtime=runtime, request=request)


@router.post(
    "/packshots/register-ideas", response_model=RegisterResponse,
    summary="Order packshots of a product",
    responses=REGISTER_ERRORS, openapi_extra=request_body_schema(PackshotRequest),
)
def register_packshots(
    principal: Registrar, body: Body, session: SessionDep, runtime: RuntimeDep,
    request: Request,
) -> dict[str, Any]:
    """Reserve credits and queue `count` clean packshots of `config.product`."""
    return _register("packshot", body, principal=principal, session=session,
                     runtime=runtime, request=request)


@router.post(
    "/image-picker/register-ideas", response_model=RegisterResponse,
    summary="Order a photo shoot",
    responses=REGISTER_ERRORS, openapi_extra=request_body_schema(ShootRequest),
)
def register_shoot(
    principal: Registrar, body: Body, session: SessionDep, runtime: RuntimeDep,
    request: Request,
) -> dict[str, Any]:
    """Reserve credits and queue `count` photo-shoot images of `config.product`."""
    return _register("image", body, principal=principal, session=session,
                     runtime=runtime, request=request)


# Lists -------------------------------------------------------------------------


def _list(
    kind: str, collection: str, *, principal: ApiPrincipal, session, runtime,
    status_filter: str | None, limit: str | None,
    cursor: str | None, product_id: str | None = None,
) -> Response:
    page = service.list_records(
        session,
        team_id=principal.team_id,
        kind=kind,
        status_filter=service.parse_status_filter(status_filter),
        product_id=product_id or None,
        limit=service.parse_limit(limit),
        cursor=cursor or None,
    )
    return list_response(collection, list_json(page.rows, runtime.storage),
                         page.next_cursor)


@router.get("/models", response_model=ModelList, summary="List models")
def list_models(
    principal: Reader, session: SessionDep, runtime: RuntimeDep,
    status_filter: StatusFilter = None, limit: Limit = None, cursor: Cursor = None,
) -> Response:
    """The team's models (generated and uploaded), newest first."""
    return _list("model", "models", principal=principal, session=session,
                 runtime=runtime, status_filter=status_filter,
                 limit=limit, cursor=cursor)


@router.get("/sceneries", response_model=SceneryList, summary="List sceneries")
def list_sceneries(
    principal: Reader, session: SessionDep, runtime: RuntimeDep,
    status_filter: StatusFilter = None, limit: Limit = None, cursor: Cursor = None,
) -> Response:
    """The team's sceneries (generated and uploaded), newest first."""
    return _list("scenery", "sceneries", principal=principal, session=session,
                 runtime=runtime, status_filter=status_filter,
                 limit=limit, cursor=cursor)


@router.get("/packshots", response_model=PackshotList, summary="List packshots")
def list_packshots(
    principal: Reader, session: SessionDep, runtime: RuntimeDep,
    status_filter: StatusFilter = None, limit: Limit = None, cursor: Cursor = None,
) -> Response:
    """The team's packshots, newest first."""
    return _list("packshot", "packshots", principal=principal, session=session,
                 runtime=runtime, status_filter=status_filter,
                 limit=limit, cursor=cursor)


@router.get("/image-picker", response_model=ImageList,
            summary="List photo-shoot images")
def list_images(
    principal: Reader, session: SessionDep, runtime: RuntimeDep,
    status_filter: StatusFilter = None,
    product_id: Annotated[str | None, Query(alias="productId")] = None,
    limit: Limit = None, cursor: Cursor = None,
) -> Response:
    """The team's photo-shoot images, newest first, optionally of one product."""
    return _list("image", "images", principal=principal, session=session,
                 runtime=runtime, status_filter=status_filter,
                 limit=limit, cursor=cursor, product_id=product_id)


# Voting ------------------------------------------------------------------------


@router.post(
    "/packshots/update-packshot", response_model=VoteResponse,
    summary="Approve or reject any generated record",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {
                "type": "object",
                "required": ["recordId", "Voting"],
                "properties": {
                    "recordId": {"type": "string", "minLength": 1},
                    "Voting": {"type": "string", "enum": ["APPROVED", "REJECTED"]},
                    "voting": {"type": "string", "enum": ["APPROVED", "REJECTED"],
                               "description": "(Lightbox) lower-case alias"},
                },
            }}},
        }
    },
)
def update_voting(
    principal: Registrar, body: Body, session: SessionDep
) -> dict[str, Any]:
    """Vote on a record of any kind; REJECTED archives it, APPROVED restores it."""
    parsed = parse_vote(body)
    record = service.vote(
        session, team_id=principal.team_id, record_id=parsed.recordId,
        voting=parsed.Voting,
    )
    return {
        "success": True,
        "message": "Packshot voting updated successfully",
        "recordId": record.id,
    }


# Uploads -----------------------------------------------------------------------


Upload = Annotated[UploadFile | None, File(description="JPEG, PNG or WebP")]
UploadName = Annotated[
    str | None, Form(description="Default: the file name without extension")
]


def _read(file: UploadFile | None, runtime: Runtime):
    settings = runtime.settings
    return read_upload(file, field="file", max_bytes=settings.max_upload_bytes,
                       max_pixels=settings.max_upload_pixels)


@router.post("/models", response_model=ModelUpload, responses=UPLOAD_ERRORS,
             summary="Upload a model photo")
def upload_model(
    principal: Registrar, session: SessionDep, runtime: RuntimeDep,
    file: Upload = None, name: UploadName = None,
) -> dict[str, Any]:
    """Add the team's own model photo: created DONE and APPROVED, free of charge."""
    upload = _read(file, runtime)
    record = service.upload_model(
        session, runtime.storage, team_id=principal.team_id, upload=upload,
        name=clean_name(name) or default_name(upload.filename, fallback="Model"),
    )
    return {"model": record_json(record, runtime.storage)}


@router.post("/sceneries", response_model=SceneryUpload, responses=UPLOAD_ERRORS,
             summary="Upload a background")
def upload_scenery(
    principal: Registrar, session: SessionDep, runtime: RuntimeDep,
    file: Upload = None, name: UploadName = None,
) -> dict[str, Any]:
    """Add the team's own background: created DONE and APPROVED, free of charge."""
    upload = _read(file, runtime)
    record = service.upload_scenery(
        session, runtime.storage, runtime.engine, team_id=principal.team_id,
        upload=upload,
        name=clean_name(name) or default_name(upload.filename, fallback="Scenery"),
    )
    return {"scenery": record_json(record, runtime.storage)}


# Orders ------------------------------------------------------------------------


@router.get("/orders/{orderId}", response_model=OrderOut, summary="Read an order")
def read_order(
    principal: Reader, session: SessionDep, runtime: RuntimeDep, orderId: str,
) -> dict[str, Any]:
    """An order's status, its records, and its credits: consumed, released, held."""
    view = service.get_order(session, team_id=principal.team_id, order_id=orderId)
    order = view.order
    return {
        "orderId": order.id,
        "batchId": order.batch_id,
        "reservationId": order.reservation_id,
        "kind": order.kind,
        "status": view.status,
        "creditsReserved": view.reserved,
        "creditsConsumed": view.consumed,
        "creditsReleased": view.released,
        "records": [record_json(record, runtime.storage) for record in view.records],
        "createdAt": isoformat(order.created_at),
    }
