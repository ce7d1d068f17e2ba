"""Video endpoints: GET /videos, POST /video-picker/register-videos and
/video-picker/register-reel (paths relative to ``/api/external``).

Checks run in the contract's order: the body and the provider (400), the image
ids (404), the credits (402); a failing request creates and reserves nothing.
Voting on videos goes through POST /packshots/update-packshot like any record.
"""

from __future__ import annotations

from typing import Any

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
    list_response,
    register_response,
    request_id,
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

router = APIRouter()


@router.get("/videos", response_model=VideoList, summary="List videos and reels")
def list_videos(
    principal: Reader, session: SessionDep, runtime: RuntimeDep,
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
    return list_response("videos", items, page.next_cursor)


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
        request_id=request_id(request),
    )
    return register_response(placed.order, [placed.record.id])


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
        request_id=request_id(request),
    )
    return register_response(placed.order, [placed.record.id])
