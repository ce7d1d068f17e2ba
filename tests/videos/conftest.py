"""Fixtures for the video tests: source images, a small provider, MP4 decoding.

Source images are drawn here and stored the way the shoot renderer stores its
results (``image``, ``background`` and ``foreground`` keys), so a test knows
exactly where the product is and what colour it has. The ``mini`` provider is
the built-in renderer configured small (1 s at 10 fps, long side 320): the
whole path, queue to MP4, in about a second.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import cv2
import numpy as np
import pytest

from lightbox.db import utcnow
from lightbox.engine import imageio
from lightbox.generation.models import DONE, Record
from lightbox.ids import new_id
from lightbox.media import renditions
from lightbox.videos.providers import (
    BuiltinProvider,
    register_provider,
    unregister_provider,
)

PRODUCT = (205, 30, 35)  # a saturated red nothing else in the scenes has
FEATURE = (25, 45, 170)  # a blue square on the wall, to track the background


@dataclass(frozen=True)
class Source:
    id: str
    image: np.ndarray
    background: np.ndarray | None
    foreground: np.ndarray | None


def draw_scene(size=(480, 600), *, seed: int = 0):
    """A product photo and its layers: (image, background RGB, foreground RGBA)."""
    width, height = size
    rng = np.random.default_rng([seed, 0x5CE7E])
    ramp = np.linspace(1.0, 0.72, height, dtype=np.float32)[:, None, None]
    wall = np.array((226, 214, 196), np.float32) * ramp
    grain = rng.normal(0, 3, (height, width, 1)).astype(np.float32)
    background = np.clip(wall + grain, 0, 255).astype(np.uint8)
    side = width // 7
    cv2.rectangle(background, (width // 8, height // 6),
                  (width // 8 + side, height // 6 + side), FEATURE, -1)

    # A bottle: body, shoulder and neck, with a pale label band.
    foreground = np.zeros((height, width, 4), np.uint8)
    cx = width // 2 + int(rng.integers(-width // 20, width // 20 + 1))
    body_w, top, bottom = width // 5, int(height * 0.42), int(height * 0.86)
    cv2.rectangle(foreground, (cx - body_w, top), (cx + body_w, bottom),
                  (*PRODUCT, 255), -1)
    cv2.ellipse(foreground, (cx, top), (body_w, body_w // 2), 0, 180, 360,
                (*PRODUCT, 255), -1)
    cv2.rectangle(foreground, (cx - body_w // 3, int(height * 0.28)),
                  (cx + body_w // 3, top), (*PRODUCT, 255), -1)
    cv2.rectangle(foreground, (cx - body_w, int(height * 0.58)),
                  (cx + body_w, int(height * 0.68)), (240, 232, 215, 255), -1)

    alpha = foreground[..., 3:].astype(np.float32) / 255.0
    image = foreground[..., :3] * alpha + background * (1.0 - alpha)
    return np.round(image).astype(np.uint8), background, foreground


def _red_mask(rgb: np.ndarray) -> np.ndarray:
    diff = np.abs(rgb.astype(np.int16) - np.array(PRODUCT, np.int16))
    return diff.max(axis=2) < 45


@pytest.fixture
def red_mask():
    """Where the product's red (``PRODUCT``) shows, tolerant of H.264 rounding."""
    return _red_mask


@pytest.fixture
def product_colour() -> tuple[int, int, int]:
    return PRODUCT


@pytest.fixture
def make_source(runtime):
    """Store a DONE (or other status) source record for a team and return it."""

    def _make(team_id: str, *, kind: str = "image", layered: bool = True,
              status: str = DONE, size=(480, 600), seed: int = 0,
              name: str = "Red Bottle — Variant 1") -> Source:
        image, background, foreground = draw_scene(size, seed=seed)
        record_id = new_id("ps" if kind == "packshot" else "img")
        prefix = f"teams/{team_id}/records/{record_id}"
        storage = runtime.storage
        stored = renditions.store_image(storage, prefix=f"{prefix}/image",
                                        image=image)
        layers = {}
        if layered:
            layers = {
                "background": renditions.store_bytes(
                    storage, f"{prefix}/background.jpg",
                    imageio.encode_jpeg(background, quality=92), "image/jpeg"),
                "foreground": renditions.store_bytes(
                    storage, f"{prefix}/foreground.png",
                    imageio.encode_png(foreground), "image/png"),
            }
        with runtime.db.session() as session:
            session.add(Record(
                id=record_id, team_id=team_id, order_id=None, kind=kind, name=name,
                status=status, product_id=None, params={}, price=0,
                image_key=stored.key if status == DONE else None,
                thumb_key=stored.thumb_key if status == DONE else None,
                layers=layers, meta={}, settled=True, created_at=utcnow(),
            ))
        return Source(record_id, image, background if layered else None,
                      foreground if layered else None)

    return _make


@pytest.fixture
def mini():
    """The built-in renderer, small and short, selectable as provider "mini"."""
    provider = BuiltinProvider(name="mini", seconds=1.0, fps=10, max_side=320)
    register_provider("mini", lambda settings: provider)
    yield provider
    unregister_provider("mini")


@pytest.fixture
def decode_mp4():
    """Decode MP4 bytes (or a path): (frames as RGB arrays, stream facts)."""

    def _decode(data: bytes | str):
        source = data if isinstance(data, str) else io.BytesIO(data)
        with av.open(source) as box:
            stream = box.streams.video[0]
            context = stream.codec_context
            facts = {
                "format": box.format.name,
                "codec": context.name,
                "pix_fmt": context.pix_fmt,
                "width": context.width,
                "height": context.height,
                "rate": stream.average_rate,
                "seconds": float(stream.duration * stream.time_base),
            }
            frames = [frame.to_ndarray(format="rgb24")
                      for frame in box.decode(stream)]
        return frames, facts

    return _decode
