"""Lightbox's rendering engine: a pure imaging library.

Images and plain parameters in, images out. Nothing in this package imports the
web, the database or the queue. The platform renders through an :class:`Engine`
from :func:`get_engine`; the functions below are the embedded engine's parts,
for scripts and tests. Rendering modules are imported on first use, so importing
the package stays cheap.
"""

from __future__ import annotations

import importlib

from lightbox.engine.base import (
    EmbeddedEngine,
    Engine,
    engine_names,
    get_engine,
    register_engine,
)
from lightbox.engine.types import (
    KEYPOINTS,
    EngineError,
    Figure,
    Light,
    PackshotOptions,
    Scenery,
    ShootSpec,
    Shot,
    Style,
)

# Public function -> the module that defines it.
_LAZY = {
    "render_shoot": "compose",
    "figure_from_photo": "figure",
    "cut_out": "cutout",
    "render_packshot": "packshot",
    "render_scenery": "scenery",
    "scenery_from_photo": "scenery",
    "render_mannequin": "mannequin",
    "parse_style": "words",
    "load_image": "imageio",
}

__all__ = [
    "KEYPOINTS", "EmbeddedEngine", "Engine", "EngineError", "Figure", "Light",
    "PackshotOptions", "Scenery", "ShootSpec", "Shot", "Style", "engine_names",
    "get_engine", "register_engine", "render_shoot", "figure_from_photo", "cut_out",
    "render_packshot", "render_scenery", "scenery_from_photo", "render_mannequin",
    "parse_style", "load_image",
]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lightbox.engine' has no attribute {name!r}")
    return getattr(importlib.import_module(f"lightbox.engine.{module}"), name)
