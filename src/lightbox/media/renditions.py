"""Storing an image as the files the API serves: full size plus a web thumbnail.

Keys are derived from a prefix the caller chooses (deterministic, so a retried
render overwrites its own files instead of leaving orphans):
``<prefix>.jpg`` (or ``<prefix>.png`` with alpha) and ``<prefix>.thumb.jpg``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import structlog

from lightbox.engine import imageio
from lightbox.media.storage import Storage, check_key

log = structlog.get_logger(__name__)

THUMB_LONG_SIDE = 640
FULL_QUALITY = 92
THUMB_QUALITY = 85

# Stored media are ours (uploads were capped on the way in, renders have known
# sizes), so decoding them back needs only a sanity bound.
_STORED_MAX_PIXELS = 400_000_000


@dataclass(frozen=True)
class StoredImage:
    key: str
    thumb_key: str
    width: int
    height: int


def store_bytes(storage: Storage, key: str, data: bytes, content_type: str) -> str:
    """Put ``data`` at ``key`` and return the key (for chaining into a row)."""
    storage.put(check_key(key), data, content_type=content_type)
    return key


def delete_files(storage: Storage, keys: list[str]) -> None:
    """Delete every key, going on past failures (a leftover file is harmless)."""
    for key in keys:
        try:
            storage.delete(key)
        except Exception:
            log.exception("media.cleanup_failed", key=key)


def thumbnail_jpeg(image: np.ndarray, *, long_side: int = THUMB_LONG_SIDE) -> bytes:
    """A web-sized JPEG; transparency is flattened onto white (an e-commerce page)."""
    return imageio.encode_jpeg(
        imageio.fit_within(image, long_side), quality=THUMB_QUALITY
    )


def store_image(
    storage: Storage, *, prefix: str, image: np.ndarray, alpha: bool = False
) -> StoredImage:
    """Store ``image`` full size (JPEG, or PNG keeping alpha) and its thumbnail.

    ``image`` is uint8 RGB or RGBA; with ``alpha=False`` an RGBA image is
    flattened onto white for the JPEG. The thumbnail is always a JPEG whose long
    side is at most 640 px (never upscaled).
    """
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"image must be HxWx3 or HxWx4, got shape {image.shape}")
    height, width = image.shape[:2]

    if alpha:
        key = store_bytes(
            storage, f"{prefix}.png", imageio.encode_png(imageio.as_rgba(image)),
            "image/png",
        )
    else:
        key = store_bytes(
            storage, f"{prefix}.jpg",
            imageio.encode_jpeg(image, quality=FULL_QUALITY), "image/jpeg",
        )

    thumb_key = store_bytes(
        storage, f"{prefix}.thumb.jpg", thumbnail_jpeg(image), "image/jpeg"
    )
    return StoredImage(key=key, thumb_key=thumb_key, width=width, height=height)


def load_image(storage: Storage, key: str) -> np.ndarray:
    """Decode a stored image to uint8 RGB, or RGBA when its alpha is real.

    Goes through the engine's loader, so an original upload's EXIF orientation is
    applied the same way it was when the upload was validated.
    """
    return imageio.load_image(storage.get(key), max_pixels=_STORED_MAX_PIXELS)
