"""The external API (``/api/external``): one router assembled from the domains."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from lightbox.catalog.routes import router as catalog_router
from lightbox.credits.routes import router as credits_router
from lightbox.generation.routes import router as generation_router
from lightbox.videos.routes import router as videos_router

PREFIX = "/api/external"


class ErrorBody(BaseModel):
    error: str


_ERRORS = {
    400: "The body or a parameter is invalid; the message names the field.",
    401: "Missing, malformed, unknown, revoked or expired API key.",
    403: "The API key lacks the scope this endpoint needs.",
    404: "Unknown id, or an id that belongs to another team.",
    429: "More than the allowed requests per minute for this key.",
}


def build_api_router() -> APIRouter:
    api = APIRouter(
        prefix=PREFIX,
        responses={
            status: {"model": ErrorBody, "description": text}
            for status, text in _ERRORS.items()
        },
    )
    api.include_router(catalog_router)
    api.include_router(generation_router)
    api.include_router(credits_router)
    api.include_router(videos_router)
    return api
