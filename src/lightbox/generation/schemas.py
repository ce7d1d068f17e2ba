"""Request and response shapes of the generation endpoints (API.md sections 3-5).

Request bodies are validated here with strict types (``count: 1.5``, ``"3"`` or
``true`` is a 400, never coerced or clamped) and every error is turned into one
message that names the field, e.g. ``"count: must be an integer between 1 and 20"``.
Unknown fields are ignored, as the contract asks.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from lightbox.errors import BadRequest

MAX_TEXT = 2000  # preferences and suggestions
MAX_SEED = 2**53 - 1  # the largest integer every JSON client reads exactly

T = TypeVar("T", bound=BaseModel)


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("blank")
    return value.strip()


NonBlank = Annotated[StrictStr, Field(min_length=1, max_length=MAX_TEXT)]


class IdRef(_Body):
    id: Annotated[StrictStr, Field(min_length=1, max_length=64)]


class IdeasRequest(_Body):
    """POST /models/register-ideas and /sceneries/register-ideas."""

    preferences: NonBlank
    count: Annotated[StrictInt, Field(ge=1, le=20)] = 10

    _strip = field_validator("preferences")(_non_blank)


Seed = Annotated[StrictInt, Field(ge=0, le=MAX_SEED)]


class PackshotConfig(_Body):
    product: IdRef
    preset: IdRef | None = None
    scenery: IdRef | None = None
    model: IdRef | None = None
    seed: Seed | None = None


class PackshotRequest(_Body):
    """POST /packshots/register-ideas."""

    config: PackshotConfig
    count: Annotated[StrictInt, Field(ge=1, le=50)] = 10


class ShootConfig(_Body):
    product: IdRef
    model: IdRef | None = None
    scenery: IdRef | None = None
    preset: IdRef | None = None
    industry: Annotated[StrictStr, Field(max_length=100)] | None = None
    suggestions: Annotated[StrictStr, Field(max_length=MAX_TEXT)] | None = None
    seed: Seed | None = None


class ShootRequest(_Body):
    """POST /image-picker/register-ideas."""

    config: ShootConfig
    count: Annotated[StrictInt, Field(ge=1, le=20)] = 10


class VoteRequest(_Body):
    """POST /packshots/update-packshot; ``Voting`` or, (Lightbox), ``voting``."""

    recordId: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    Voting: Literal["APPROVED", "REJECTED"]


# Messages for fields whose pydantic wording would be unhelpful; the rest fall back
# to "<field>: <reason>" built from the error type.
_FIELD_MESSAGES = {
    "preferences": "preferences: must be a non-empty string",
    "config.seed": f"config.seed: must be an integer between 0 and {MAX_SEED}",
    "Voting": "Voting: must be APPROVED or REJECTED",
    "recordId": "recordId: must be a non-empty string",
}


def _count_message(model: type[BaseModel]) -> str:
    field = model.model_fields["count"]
    bounds = {type(m).__name__: m for m in field.metadata}
    low, high = bounds["Ge"].ge, bounds["Le"].le
    return f"count: must be an integer between {low} and {high}"


def _message(model: type[BaseModel], error: dict[str, Any]) -> str:
    path = ".".join(str(part) for part in error["loc"])
    kind = error["type"]

    if kind == "missing":
        # A missing config or product is reported at the leaf the caller must send.
        if path in ("config", "config.product"):
            return "config.product.id: required"
        return f"{path}: required"
    if path == "count":
        return _count_message(model)
    if kind == "string_too_long":
        limit = error.get("ctx", {}).get("max_length")
        return f"{path}: must be a string of at most {limit} characters"
    if path in _FIELD_MESSAGES:
        return _FIELD_MESSAGES[path]
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{path}: must be an object"
    if path.endswith(".id"):
        return f"{path}: must be a non-empty string"
    if kind.startswith("string"):
        return f"{path}: must be a string"
    return f"{path}: {error['msg']}"


def parse_body(model: type[T], body: Any) -> T:
    """``body`` (decoded JSON) validated as ``model``; BadRequest naming the field."""
    if not isinstance(body, dict):
        raise BadRequest("body: must be a JSON object")

    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise BadRequest(_message(model, exc.errors()[0])) from None


def parse_vote(body: Any) -> VoteRequest:
    """The vote body, taking lower-case ``voting`` when ``Voting`` is absent."""
    if isinstance(body, dict) and "Voting" not in body and "voting" in body:
        try:
            return parse_body(VoteRequest, {**body, "Voting": body["voting"]})
        except BadRequest as exc:
            # Name the field the way the caller spelled it.
            if exc.message.startswith("Voting:"):
                raise BadRequest("voting" + exc.message[len("Voting"):]) from None
            raise
    return parse_body(VoteRequest, body)


def request_body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """An OpenAPI ``requestBody`` for endpoints that validate the JSON themselves.

    The routes read the body as plain JSON so that every error becomes one of the
    messages above; this keeps the documented schema in the OpenAPI all the same.
    Nested models are inlined because ``$defs`` references are not OpenAPI paths.
    """
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref is not None:
                return inline(defs[ref.rsplit("/", 1)[-1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline(schema)}},
        }
    }


# Responses (documented in the OpenAPI; the routes build plain dicts for speed).


class RegisterResponse(BaseModel):
    createdRecordIds: list[str]
    batchId: str
    orderId: str
    reservationId: str
    creditsReserved: int


class RecordOut(BaseModel):
    id: str
    name: str
    thumbnail: str = Field(description='Web-sized image URL once DONE, else ""')
    status: Literal["INPROGRESS", "DONE", "FAILED"]
    voting: Literal["APPROVED", "REJECTED"] | None
    createdAt: str
    imageUrl: str | None = Field(None, description="Full resolution (DONE only)")
    error: str | None = Field(None, description="Why rendering failed (FAILED only)")
    kind: str
    orderId: str | None = None
    productId: str | None = None


class ListPage(BaseModel):
    count: int
    nextCursor: str | None = Field(
        None, description="Pass as `cursor` for the next page (only with `limit`)"
    )


class ModelList(ListPage):
    models: list[RecordOut]


class SceneryList(ListPage):
    sceneries: list[RecordOut]


class PackshotList(ListPage):
    packshots: list[RecordOut]


class ImageList(ListPage):
    images: list[RecordOut]


class VoteResponse(BaseModel):
    success: bool
    message: str
    recordId: str


class ModelUpload(BaseModel):
    model: RecordOut


class SceneryUpload(BaseModel):
    scenery: RecordOut


class OrderOut(BaseModel):
    orderId: str
    batchId: str
    reservationId: str | None
    kind: str
    status: Literal["INPROGRESS", "DONE", "PARTIAL", "FAILED"]
    creditsReserved: int
    creditsConsumed: int
    creditsReleased: int
    records: list[RecordOut]
    createdAt: str
