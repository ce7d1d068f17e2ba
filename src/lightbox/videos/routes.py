"""Video endpoints: GET /videos, POST /video-picker/register-videos and
/video-picker/register-reel (paths relative to ``/api/external``).

Checks run in the contract's order: the body and the provider (400), the image
ids (404), the credits (402); a failing request creates and reserves nothing.
Voting on videos goes through POST /packshots/update-packshot like any record.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response

from lightbox.deps import RuntimeDep, SessionDep
from lightbox.generation import service as generation
from lightbox.generation.routes import (
    Body,
    Cursor,
    Limit,
    Reader,
    Registrar,
    StatusFilter,
)
from lightbox.generation.schemas import RegisterResponse, request_body_schema
from lightbox.videos import service
from lightbox.videos.providers import get_provider
from lightbox.videos.schemas import (
    ReelBody,
    VideoBody,
    VideoList,
    parse_reel_request,
    parse_video_request,
)
from lightbox.videos.service import VideoOrder

router = APIRouter()

# Only these (and not content-length/-type) carry over from the dependencies'
# response (the rate-limit headers) onto the response built here.
_SKIP_HEADERS = {"content-length", "content-type"}


def _request_id(request: Request) -> str | None:
    """The request's id, carried into the render task's logs."""
    state_id = getattr(request.state, "request_id", None)
    if state_id:
        return str(state_id)
    return structlog.contextvars.get_contextvars().get("request_id")


def _register_response(placed: VideoOrder) -> dict[str, Any]:
    order = placed.order
    return {
        "createdRecordIds": [placed.record.id],
        "batchId": order.batch_id,
        "orderId": order.id,
        "reservationId": order.reservation_id,
        "creditsReserved": order.credits_reserved,
    }


@router.get("/videos", response_model=VideoList, summary="List videos and reels")
def list_videos(
    principal: Reader, session: SessionDep, runtime: RuntimeDep, response: Response,
    status_filter: StatusFilter = None, limit: Limit = None, cursor: Cursor = None,
) -> Response:
    """The team's videos and reels, newest first; `videoUrl` is "" until DONE."""
    page = service.list_videos(
        session,
        team_id=principal.team_id,
        status_filter=generation.parse_status_filter(status_filter),
        limit=generation.parse_limit(limit),
        cursor=cursor or None,
    )
    items = [service.video_json(record, runtime.storage) for record in page.records]
    payload: dict[str, Any] = {"videos": items, "count": len(items)}
    if page.next_cursor:
        payload["nextCursor"] = page.next_cursor

    headers = {key: value for key, value in response.headers.items()
               if key.lower() not in _SKIP_HEADERS}
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, media_type="application/json", headers=headers)


@router.post(
    "/video-picker/register-videos", response_model=RegisterResponse,
    summary="Order a video of one image",
    openapi_extra=request_body_schema(VideoBody),
)
def register_video(
    principal: Registrar, body: Body, session: SessionDep, runtime: RuntimeDep,
    request: Request,
) -> dict[str, Any]:
    """Reserve credits and queue one video: camera motion over `imageId`."""
    parsed = parse_video_request(body)
    provider = get_provider(runtime.settings, parsed.provider)
    placed = service.register_video(
        session, team_id=principal.team_id, request=parsed, provider=provider.name,
        price=runtime.settings.prices.video, queue=runtime.queue,
        request_id=_request_id(request),
    )
    return _register_response(placed)


@router.post(
    "/video-picker/register-reel", response_model=RegisterResponse,
    summary="Order a reel of several images",
    openapi_extra=request_body_schema(ReelBody),
)
def register_reel(
    principal: Registrar, body: Body, session: SessionDep, runtime: RuntimeDep,
    request: Request,
) -> dict[str, Any]:
    """Reserve credits (per image) and queue one reel joining `imageIds` in order."""
    parsed = parse_reel_request(body)
    provider = get_provider(runtime.settings, parsed.provider)
    placed = service.register_reel(
        session, team_id=principal.team_id, request=parsed, provider=provider.name,
        price_per_image=runtime.settings.prices.reel_per_image, queue=runtime.queue,
        request_id=_request_id(request),
    )
    return _register_response(placed)
