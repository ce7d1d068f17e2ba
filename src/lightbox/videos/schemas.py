"""Request and response shapes of the video endpoints (API.md, "Videos").

Bodies are checked here, before any id is looked up, and every error is one
message naming the field: ``"imageIds[3]: duplicate of imageIds[0]"``. Unknown
fields are ignored, as everywhere in the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from lightbox.errors import BadRequest
from lightbox.generation.schemas import MAX_SEED, MAX_TEXT, RecordOut

MIN_REEL_IMAGES = 2
MAX_REEL_IMAGES = 20
MAX_ID = 64
MAX_PROVIDER = 64


@dataclass(frozen=True)
class VideoRequest:
    """POST /video-picker/register-videos, validated."""

    image_id: str
    field: str  # how the caller named the image: imageId or generatedImageId
    suggestion: str
    provider: str | None
    seed: int | None


@dataclass(frozen=True)
class ReelRequest:
    """POST /video-picker/register-reel, validated."""

    image_ids: tuple[str, ...]
    suggestion: str
    provider: str | None
    seed: int | None


def parse_video_request(body: Any) -> VideoRequest:
    body = _object(body)
    given = {name: body.get(name) for name in ("imageId", "generatedImageId")
             if body.get(name) is not None}
    if not given:
        raise BadRequest("imageId: required (or generatedImageId)")
    for name, value in given.items():
        _id(value, name)
    if len(set(given.values())) > 1:
        raise BadRequest("generatedImageId: differs from imageId; send one of them")

    field = next(iter(given))
    return VideoRequest(
        image_id=given[field], field=field, suggestion=_suggestion(body),
        provider=_provider(body), seed=_seed(body),
    )


def parse_reel_request(body: Any) -> ReelRequest:
    body = _object(body)
    ids = body.get("imageIds")
    if ids is None:
        raise BadRequest("imageIds: required")
    if not isinstance(ids, list) or not (
        MIN_REEL_IMAGES <= len(ids) <= MAX_REEL_IMAGES
    ):
        raise BadRequest(
            f"imageIds: must be a list of {MIN_REEL_IMAGES} to {MAX_REEL_IMAGES} "
            "image ids"
        )

    seen: dict[str, int] = {}
    for index, value in enumerate(ids):
        _id(value, f"imageIds[{index}]")
        if value in seen:
            raise BadRequest(
                f"imageIds[{index}]: duplicate of imageIds[{seen[value]}]"
            )
        seen[value] = index
    return ReelRequest(
        image_ids=tuple(ids), suggestion=_suggestion(body), provider=_provider(body),
        seed=_seed(body),
    )


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("body: must be a JSON object")
    return body


def _id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{field}: must be a non-empty string")
    if len(value) > MAX_ID:
        raise BadRequest(f"{field}: must be a string of at most {MAX_ID} characters")
    return value


def _suggestion(body: dict[str, Any]) -> str:
    value = body.get("suggestion")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest("suggestion: must be a string")
    if len(value) > MAX_TEXT:
        raise BadRequest(
            f"suggestion: must be a string of at most {MAX_TEXT} characters"
        )
    return value.strip()


def _provider(body: dict[str, Any]) -> str | None:
    value = body.get("provider")
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_PROVIDER:
        raise BadRequest("provider: must be the name of a configured provider")
    return value


def _seed(body: dict[str, Any]) -> int | None:
    value = body.get("seed")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not (
        0 <= value <= MAX_SEED
    ):
        raise BadRequest(f"seed: must be an integer between 0 and {MAX_SEED}")
    return value


# OpenAPI documentation of the bodies the routes read as plain JSON.

class VideoBody(BaseModel):
    imageId: str | None = Field(None, description="A DONE photo-shoot image or "
                                "packshot of the team (or send generatedImageId)")
    generatedImageId: str | None = Field(None, description="Alias of imageId")
    suggestion: str | None = Field(
        None, max_length=MAX_TEXT,
        description='Camera direction: "slow push in", "pan left", "orbit", '
        '"pull out", "fast"; "square", "landscape" or "9:16" set the format',
    )
    provider: str | None = Field(None, description="Renderer; default builtin")
    seed: int | None = Field(None, ge=0, le=MAX_SEED,
                             description="(Lightbox) same seed, same video")


class ReelBody(BaseModel):
    imageIds: list[str] = Field(min_length=MIN_REEL_IMAGES,
                                max_length=MAX_REEL_IMAGES)
    suggestion: str | None = Field(
        None, max_length=MAX_TEXT,
        description='Motion words as for videos; "slide" or "wipe" replace the '
        'cross-fade; "square" or "landscape" replace the vertical 9:16 format',
    )
    provider: str | None = Field(None, description="(Lightbox) default builtin")
    seed: int | None = Field(None, ge=0, le=MAX_SEED)


class VideoOut(RecordOut):
    videoUrl: str = Field(description='The MP4 once DONE, else ""')
    sourceImageIds: list[str] = Field(
        default_factory=list, description="(Lightbox) the images it was made from"
    )


class VideoList(BaseModel):
    videos: list[VideoOut]
    count: int
    nextCursor: str | None = None


