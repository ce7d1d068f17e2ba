"""The values the engine passes around.

Images are NumPy arrays: ``uint8``, shape ``(H, W, 3)`` for RGB and ``(H, W, 4)`` for
RGBA (straight, not premultiplied, alpha). Coordinates are pixels, ``x`` to the
right and ``y`` down. Nothing here knows about files, the web or the database: the
platform stores the images and the ``to_meta()`` dictionaries, and rebuilds these
objects with ``from_meta()``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

RGB = tuple[int, int, int]


class EngineError(ValueError):
    """An input the engine cannot use; the message names the problem."""


@dataclass(frozen=True)
class Light:
    """Where the key light of a scene comes from.

    ``azimuth`` is the image-plane direction the light travels, in degrees (0 =
    towards +x, 90 = towards +y, i.e. downwards); a light from the upper left
    travels towards the lower right, about 45. ``elevation`` is degrees above the
    floor (90 = straight overhead), which sets how long shadows are.
    """

    azimuth: float = 60.0
    elevation: float = 55.0
    softness: float = 0.6  # 0 = hard sun, 1 = overcast / big softbox
    color: RGB = (255, 250, 242)
    intensity: float = 1.0


@dataclass(frozen=True)
class Style:
    """What free text ("dark moody marble, warm light") asks for, in numbers.

    Every field has a neutral default, so unknown words change nothing.
    """

    brightness: float = 0.0  # -1 dark .. +1 bright / airy
    warmth: float = 0.0  # -1 cool .. +1 warm
    saturation: float = 0.0  # -1 pastel / muted .. +1 vivid
    contrast: float = 0.0  # -1 flat / soft .. +1 punchy
    colors: tuple[RGB, ...] = ()  # colours named in the text, in order
    setting: str = ""  # "studio", "tabletop", "outdoor", or "" (undecided)
    place: str = ""  # "beach", "sunset", "city", "garden", "forest", ...
    material: str = ""  # "marble", "wood", "concrete", "linen", ...
    lighting: str = ""  # "soft", "hard", "backlight", "side", "golden", ...
    framing: str = ""  # "close", "wide", "centered", "thirds", "minimal", ...
    words: tuple[str, ...] = ()  # the recognised words, for logs and tests


@dataclass(frozen=True)
class Scenery:
    """A background plate and what the compositor needs to place things on it."""

    image: np.ndarray  # RGB
    floor_y: float  # fraction of height where objects stand (0 top .. 1 bottom)
    horizon_y: float  # fraction of height of the wall/floor seam or horizon
    light: Light = field(default_factory=Light)
    setting: str = "studio"
    surface: str = "paper"  # what the floor is made of
    palette: tuple[RGB, ...] = ()  # dominant colours, for harmonisation

    def to_meta(self) -> dict:
        return {
            "floor_y": self.floor_y,
            "horizon_y": self.horizon_y,
            "light": asdict(self.light),
            "setting": self.setting,
            "surface": self.surface,
            "palette": [list(c) for c in self.palette],
        }

    @classmethod
    def from_meta(cls, image: np.ndarray, meta: dict) -> Scenery:
        light = meta.get("light") or {}
        return cls(
            image=image,
            floor_y=float(meta["floor_y"]),
            horizon_y=float(meta.get("horizon_y", meta["floor_y"])),
            light=Light(**{**light, "color": tuple(light.get("color", (255,) * 3))}),
            setting=meta.get("setting", "studio"),
            surface=meta.get("surface", "paper"),
            palette=tuple(tuple(c) for c in meta.get("palette", ())),
        )


KEYPOINTS = (
    "head_top", "neck", "left_shoulder", "right_shoulder", "chest", "waist",
    "left_hip", "right_hip", "left_hand", "right_hand", "left_foot", "right_foot",
)


@dataclass(frozen=True)
class Figure:
    """A mannequin or a cut-out model photo, and where its body parts are.

    ``keypoints`` maps names from ``KEYPOINTS`` to pixel ``(x, y)`` in ``rgba``;
    a torso form has no feet or hands (those keys are absent). "left" is the
    figure's own left, which is on the viewer's right.
    """

    rgba: np.ndarray
    keypoints: dict[str, tuple[float, float]]
    kind: Literal["full", "torso"] = "full"
    source: Literal["mannequin", "photo"] = "mannequin"

    def to_meta(self) -> dict:
        return {
            "keypoints": {k: [float(x), float(y)] for k, (x, y) in
                          self.keypoints.items()},
            "kind": self.kind,
            "source": self.source,
        }

    @classmethod
    def from_meta(cls, rgba: np.ndarray, meta: dict) -> Figure:
        return cls(
            rgba=rgba,
            keypoints={k: (float(v[0]), float(v[1]))
                       for k, v in meta["keypoints"].items()},
            kind=meta.get("kind", "full"),
            source=meta.get("source", "mannequin"),
        )


@dataclass(frozen=True)
class PackshotOptions:
    size: tuple[int, int] = (2000, 2000)  # width, height
    background: RGB = (255, 255, 255)
    transparent: bool = False  # PNG with alpha instead of a background colour
    shadow: Literal["none", "contact", "reflection"] = "contact"
    margin: float = 0.1  # fraction of the shorter side left free on each side


@dataclass(frozen=True)
class ShootSpec:
    """Everything one photo-shoot image depends on; same spec, same bytes."""

    product: np.ndarray  # RGBA cutout of the product
    scenery: Scenery | None = None
    figure: Figure | None = None
    industry: str = ""
    suggestions: str = ""
    guidelines: str = ""  # the preset's guidelines text, if any
    seed: int = 0
    variant: int = 0  # index of the image within its order
    long_side: int = 1536


@dataclass(frozen=True)
class Shot:
    """A composed photograph and its layers (kept for parallax video)."""

    image: np.ndarray  # RGB, the photograph
    background: np.ndarray  # RGB, the scene without the product (same size)
    foreground: np.ndarray  # RGBA, product (and figure) layer with shadows
    params: dict = field(default_factory=dict)  # framing, angle, aspect, ...
