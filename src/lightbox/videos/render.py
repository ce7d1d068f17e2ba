"""Rendering video and reel records: load the stills, call the provider, store.

``generation.render`` dispatches the kinds ``video`` and ``reel`` here, and the
render task treats the result like any other (claim, render, settle once). The
MP4 goes to ``<record prefix>/video.mp4`` (``layers["video"]``), the poster frame
to ``<record prefix>/poster.jpg`` (``image_key``) with its web thumbnail
(``thumb_key``, the record's ``thumbnail``). Keys are derived from the record id,
so a retried render overwrites its own files.

Sizes, with the short side 1080: a video keeps its image's shape, rounded to the
nearest of 9:16, 2:3, 4:5, 1:1, 3:2 and 16:9 (a 4:5 shoot gives 1080x1350); a
reel is vertical 9:16 (1080x1920). Words in the suggestion override either:
"vertical"/"story"/"9:16", "square"/"1:1", "landscape"/"horizontal"/"16:9", or
any of the ratios written out ("4:5").
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import structlog
from sqlalchemy import select

from lightbox.engine import imageio
from lightbox.engine.video import Layers, VideoInfo
from lightbox.errors import BadRequest
from lightbox.generation.models import DONE, Record
from lightbox.media import renditions
from lightbox.videos.providers import VideoProvider, get_provider

if TYPE_CHECKING:
    from lightbox.generation.render import Rendered
    from lightbox.runtime import Runtime

log = structlog.get_logger(__name__)

SHORT_SIDE = 1080
FORMATS: dict[str, tuple[int, int]] = {
    "9:16": (1080, 1920),
    "2:3": (1080, 1620),
    "4:5": (1080, 1350),
    "1:1": (1080, 1080),
    "3:2": (1620, 1080),
    "16:9": (1920, 1080),
}
REEL_FORMAT = "9:16"
_FORMAT_WORDS = (
    ("9:16", ("vertical", "story", "stories", "reel", "tiktok", "shorts")),
    ("1:1", ("square",)),
    ("16:9", ("landscape", "horizontal", "widescreen", "youtube")),
)


# Formats -----------------------------------------------------------------------


def requested_format(suggestion: str) -> str | None:
    """The format the suggestion names, if any: a ratio written out wins."""
    text = suggestion.lower()
    for ratio in FORMATS:
        if re.search(rf"(?<![\d.]){re.escape(ratio)}(?![\d.])", text):
            return ratio
    words = set(re.findall(r"[a-z]+", text))
    for ratio, names in _FORMAT_WORDS:
        if words.intersection(names):
            return ratio
    return None


def nearest_format(width: int, height: int) -> str:
    """The standard format closest to the image's shape (by log of the ratio)."""
    aspect = math.log(width / height)
    return min(FORMATS, key=lambda r: abs(math.log(_ratio(r)) - aspect))


def video_size(image_shape: tuple[int, ...], suggestion: str = "") -> tuple[int, int]:
    """(width, height) of a single image's video; see the module docstring."""
    height, width = image_shape[:2]
    return FORMATS[requested_format(suggestion) or nearest_format(width, height)]


def reel_size(suggestion: str = "") -> tuple[int, int]:
    return FORMATS[requested_format(suggestion) or REEL_FORMAT]


def _ratio(name: str) -> float:
    w, h = (int(part) for part in name.split(":"))
    return w / h


# Inputs ------------------------------------------------------------------------


def _render_error(message: str) -> Exception:
    # Imported here: generation.render imports this module to register it.
    from lightbox.generation.render import RenderError

    return RenderError(message)


def _provider(runtime: Runtime, record: Record) -> VideoProvider:
    name = (record.params or {}).get("provider")
    try:
        return get_provider(runtime.settings, name)
    except BadRequest:
        raise _render_error(
            f"The video provider {name!r} is no longer configured."
        ) from None


def _sources(runtime: Runtime, record: Record) -> list[Record]:
    """The source image rows, checked again: one may have gone since ordering."""
    ids = (record.params or {}).get("source_ids") or []
    if not ids:
        raise _render_error("This video has no source images.")
    with runtime.db.session() as session:
        rows = {row.id: row for row in session.scalars(
            select(Record).where(Record.id.in_(ids)))}
    sources = []
    for index, image_id in enumerate(ids):
        row = rows.get(image_id)
        if (row is None or row.team_id != record.team_id or row.status != DONE
                or not row.image_key):
            raise _render_error(f"Source image {index + 1} of this video is gone.")
        sources.append(row)
    return sources


def load_still(runtime: Runtime, source: Record
               ) -> tuple[np.ndarray, Layers | None]:
    """A source image as RGB, with its shoot's layers when it has usable ones.

    Packshots with transparency are flattened on white, as a shop shows them.
    Layers that do not match the stored image (another engine's shoot) are
    dropped rather than failing: the video then moves the photo as one plane.
    """
    storage = runtime.storage
    image = imageio.as_rgb(renditions.load_image(storage, source.image_key))
    keys = source.layers or {}
    if not (keys.get("background") and keys.get("foreground")):
        return image, None

    background = imageio.as_rgb(renditions.load_image(storage, keys["background"]))
    foreground = imageio.as_rgba(renditions.load_image(storage, keys["foreground"]))
    if background.shape[:2] != image.shape[:2] or (
        foreground.shape[:2] != image.shape[:2]
    ):
        log.warning("video.layers_mismatch", source_id=source.id)
        return image, None
    return image, (background, foreground)


# Renderers ---------------------------------------------------------------------


def render_video_record(runtime: Runtime, record: Record) -> Rendered:
    """One image's video (record kind ``video``)."""
    provider = _provider(runtime, record)
    source = _sources(runtime, record)[0]
    image, layers = load_still(runtime, source)
    suggestion = (record.params or {}).get("suggestion") or ""
    size = video_size(image.shape, suggestion)

    def draw(path: str) -> VideoInfo:
        return provider.render_video(image, path, layers=layers,
                                     suggestion=suggestion, size=size,
                                     seed=_seed(record))

    return _render_and_store(runtime, record, provider, draw)


def render_reel_record(runtime: Runtime, record: Record) -> Rendered:
    """A reel of several images (record kind ``reel``), loaded one at a time."""
    provider = _provider(runtime, record)
    sources = _sources(runtime, record)
    suggestion = (record.params or {}).get("suggestion") or ""

    def stills() -> Iterator[tuple[np.ndarray, Layers | None]]:
        # Lazy: the provider pulls each still as it needs it, so at most a
        # couple are decoded at once however many the reel holds.
        for source in sources:
            yield load_still(runtime, source)

    def draw(path: str) -> VideoInfo:
        return provider.render_reel(stills(), path, count=len(sources),
                                    suggestion=suggestion,
                                    size=reel_size(suggestion), seed=_seed(record))

    return _render_and_store(runtime, record, provider, draw)


def _seed(record: Record) -> int:
    seed = (record.params or {}).get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise _render_error(f"This record has no usable seed: {seed!r}.")
    return seed


def _render_and_store(runtime: Runtime, record: Record, provider: VideoProvider,
                      draw) -> Rendered:
    from lightbox.generation.render import Rendered, record_prefix

    prefix = record_prefix(record)
    # The render task keeps the lease alive however long the encode takes.
    with tempfile.TemporaryDirectory(prefix="lightbox-video-") as folder:
        path = os.path.join(folder, "video.mp4")
        info = draw(path)
        # Limitation: Storage.put takes bytes, so the finished MP4 (a few MB,
        # ~15 MB for a 30 s reel) is held in memory once while it is stored; a
        # put_file on the storage protocol would stream it from disk.
        with open(path, "rb") as handle:
            data = handle.read()
    video_key = renditions.store_bytes(runtime.storage, f"{prefix}/video.mp4", data,
                                       "video/mp4")
    poster = renditions.store_image(runtime.storage, prefix=f"{prefix}/poster",
                                    image=info.poster)
    log.info("video.rendered", kind=record.kind, provider=provider.name,
             width=info.width, height=info.height, frames=info.frames,
             bytes=len(data))
    return Rendered(
        image_key=poster.key,
        thumb_key=poster.thumb_key,
        layers={"video": video_key},
        meta={"video": _video_meta(info, provider, size=len(data))},
    )


def _video_meta(info: VideoInfo, provider: VideoProvider, *, size: int
                ) -> dict[str, Any]:
    return {
        "provider": provider.name, "seconds": round(info.seconds, 3),
        "fps": info.fps, "width": info.width, "height": info.height,
        "frames": info.frames, "bytes": size,
    }
