"""Validating uploaded images before anything is stored.

The order of the checks keeps hostile uploads cheap: the byte count is enforced
while reading (never more than ``max_bytes + 1`` bytes are read), the header is
probed for format and pixel count before any pixel is decoded, and only then is
the image decoded (EXIF orientation applied) by the engine's ``load_image``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import structlog

from lightbox.engine import imageio
from lightbox.engine.types import EngineError
from lightbox.errors import BadRequest, PayloadTooLarge, UnsupportedMedia

log = structlog.get_logger(__name__)

_CHUNK = 1024 * 1024
_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(frozen=True, eq=False)
class UploadedImage:
    """An upload that passed every check.

    ``data`` is the file exactly as sent; ``width``/``height`` and ``image`` are
    after the EXIF orientation, so they can differ from the header's. ``image`` is
    RGBA only when the file's alpha channel is real (not all opaque).
    """

    data: bytes
    format: str  # "JPEG", "PNG" or "WEBP"
    width: int
    height: int
    image: np.ndarray
    filename: str = ""

    @property
    def has_alpha(self) -> bool:
        return self.image.ndim == 3 and self.image.shape[2] == 4

    @property
    def extension(self) -> str:
        return _EXTENSIONS[self.format]

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self.format]


def describe_size(n_bytes: int) -> str:
    """``26214400`` -> ``"25 MB"``: the limit as a person reads it."""
    for unit, size in (("MB", 1024 * 1024), ("KB", 1024)):
        if n_bytes >= size:
            return f"{round(n_bytes / size, 1):g} {unit}"
    return f"{n_bytes} bytes"


def is_too_large(error: EngineError) -> bool:
    """Whether an engine error is about size (413) rather than content (415).

    The engine has one error type; its messages for the pixel cap start with
    "image too large". A ``too_large`` attribute or a subclass whose name says so
    wins if the engine ever grows one.
    """
    flag = getattr(error, "too_large", None)
    if flag is not None:
        return bool(flag)
    if "TooLarge" in type(error).__name__:
        return True
    message = str(error).lower()
    return message.startswith("image too large") or "decompression bomb" in message


def engine_error_to_http(error: EngineError, *, field: str) -> Exception:
    """The API error for an engine error about the upload named ``field``."""
    message = f"{field}: {error}"
    if is_too_large(error):
        return PayloadTooLarge(message)
    return UnsupportedMedia(message)


def read_limited(stream: IO[bytes], *, field: str, max_bytes: int) -> bytes:
    """The whole stream, read in chunks; 413 as soon as it passes ``max_bytes``."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(_CHUNK, max_bytes + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > max_bytes:
            raise PayloadTooLarge(
                f"{field}: upload too large (max {describe_size(max_bytes)})"
            )
    return b"".join(chunks)


def validate_image(
    data: bytes, *, field: str, max_pixels: int, filename: str = ""
) -> UploadedImage:
    """Probe the header, then decode; EngineErrors become 413/415 naming ``field``."""
    try:
        fmt, _, _ = imageio.image_info(data, max_pixels=max_pixels)
        image = imageio.load_image(data, max_pixels=max_pixels)
    except EngineError as exc:
        log.info("upload.rejected", field=field, reason=str(exc)[:200])
        raise engine_error_to_http(exc, field=field) from None

    height, width = image.shape[:2]
    return UploadedImage(
        data=data, format=fmt, width=width, height=height, image=image,
        filename=filename,
    )


def read_upload(
    upload: Any, *, field: str, max_bytes: int, max_pixels: int
) -> UploadedImage:
    """Read and validate one uploaded file (a Starlette ``UploadFile``).

    Synchronous on purpose: routes with a database session are plain ``def`` and
    run in the thread pool, where ``upload.file`` is read directly. A missing file
    (``None`` or a plain form string) is a 400 naming ``field``.
    """
    stream = getattr(upload, "file", None)
    if stream is None:
        raise BadRequest(f"{field}: required")

    stream.seek(0)
    data = read_limited(stream, field=field, max_bytes=max_bytes)
    if not data:
        raise UnsupportedMedia(f"{field}: not an image: the file is empty")

    filename = getattr(upload, "filename", None) or ""
    return validate_image(data, field=field, max_pixels=max_pixels, filename=filename)


def default_name(filename: str | None, *, fallback: str = "Untitled") -> str:
    """A display name from an upload's file name: no folders, no extension."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
    return clean_name(stem) or fallback


def clean_name(name: str | None, *, max_length: int = 200) -> str:
    """Trimmed, single-line, at most ``max_length`` characters."""
    text = " ".join((name or "").split())
    return text[:max_length].rstrip()


class UploadLimitMiddleware:
    """Refuse request bodies over a limit before they are parsed (pure ASGI).

    Starlette spools a whole multipart body to disk before the endpoint runs, so
    ``read_upload``'s own limit only protects memory. This stops a huge body at the
    door: a declared ``Content-Length`` over the limit is answered 413 at once; a
    chunked body is cut off with 413 as soon as it passes the limit. ``slack``
    leaves room for the multipart envelope and the other form fields.
    """

    def __init__(
        self, app: Any, *, max_bytes: int, slack: int = 256 * 1024,
        path_prefix: str = "/api/",
    ) -> None:
        self.app = app
        self.limit = max_bytes + slack
        self.max_bytes = max_bytes
        self.path_prefix = path_prefix

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.path_prefix):
            await self.app(scope, receive, send)
            return

        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(send)
            return

        received = 0
        exceeded = False
        replaced = False

        async def limited_receive():
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # Stop reading; whatever the app answers to the cut body is
                    # replaced by the 413 below.
                    exceeded = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def guarded_send(message):
            nonlocal replaced
            if exceeded and message["type"] == "http.response.start":
                replaced = True
                await self._reject(send)
                return
            if replaced:
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            # A parser choking on the cut body is the size's fault, not a 500.
            if not exceeded or replaced:
                raise
            await self._reject(send)

    async def _reject(self, send) -> None:
        body = json.dumps(
            {"error": f"file: upload too large (max {describe_size(self.max_bytes)})"}
        ).encode()
        await send({
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        })
        await send({"type": "http.response.body", "body": body})
