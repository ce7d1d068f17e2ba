"""Where things go in a photo-shoot frame: aspect, crop, camera roll, placement.

Everything here is geometry on plain numbers; no pixels are touched. A
:class:`Plan` is chosen once per image from the industry, the style words and a
seeded generator, and the compositor follows it. Placements are 2x3 affine
matrices from a source image (cutout or figure) into the *level* output frame,
before the camera roll, which the compositor applies to every layer alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lightbox.engine.types import EngineError, Style

ASPECTS: dict[str, tuple[int, int]] = {
    "4:5": (4, 5), "1:1": (1, 1), "3:2": (3, 2), "2:3": (2, 3), "16:9": (16, 9),
}

# What each industry asks of the frame. ``floor``: where the product stands, as a
# fraction of the output height; ``height``/``width``: the largest fraction of the
# frame the product may fill; ``zoom``: how much of the scenery the crop keeps
# (1 = as much as the aspect allows); ``dof``: strongest background blur, as a
# fraction of the long side.
PROFILES: dict[str, dict] = {
    "default": dict(aspects=("4:5", "1:1", "3:2", "2:3", "16:9"), floor=(0.78, 0.86),
                    height=(0.44, 0.54), width=0.62, zoom=(0.72, 0.95), dof=0.007),
    "closeup": dict(aspects=("4:5", "1:1", "2:3", "3:2"), floor=(0.8, 0.87),
                    height=(0.62, 0.7), width=0.8, zoom=(0.42, 0.58), dof=0.014),
    "food": dict(aspects=("1:1", "4:5", "3:2", "2:3"), floor=(0.66, 0.74),
                 height=(0.4, 0.48), width=0.6, zoom=(0.55, 0.75), dof=0.011),
    "furniture": dict(aspects=("3:2", "16:9", "4:5", "1:1"), floor=(0.87, 0.92),
                      height=(0.62, 0.7), width=0.6, zoom=(0.9, 1.0), dof=0.003),
    "fashion": dict(aspects=("4:5", "2:3", "1:1", "3:2"), floor=(0.93, 0.96),
                    height=(0.84, 0.9), width=0.8, zoom=(0.8, 1.0), dof=0.006),
}

INDUSTRIES: dict[str, str] = {
    "fashion": "fashion", "apparel": "fashion", "clothing": "fashion",
    "jewelry": "closeup", "jewellery": "closeup", "cosmetics": "closeup",
    "beauty": "closeup", "food": "food", "beverage": "food", "drinks": "food",
    "furniture": "furniture", "home": "furniture", "electronics": "default",
}

MAX_ROLL_DEG = 1.6


@dataclass(frozen=True)
class Plan:
    """The choices for one image; ``params()`` is what the Shot reports."""

    industry: str  # as asked (lower-case)
    profile: str  # key of PROFILES
    aspect: str
    size: tuple[int, int]  # width, height
    floor_at: float  # where the product stands, fraction of height
    height: float  # largest fraction of the height the product may fill
    width: float  # largest fraction of the width
    center_x: float  # fraction of the width
    zoom: float
    roll: float  # degrees, counter-clockwise
    tilt: float  # keystone: > 0 widens the bottom (camera looking down)
    dof: float
    lighting: str = ""  # the lighting word of the suggestions, if any

    def params(self) -> dict:
        return {
            "industry": self.industry, "layout": self.profile, "aspect": self.aspect,
            "size": list(self.size), "floor_at": round(self.floor_at, 4),
            "center_x": round(self.center_x, 4), "zoom": round(self.zoom, 4),
            "roll": round(self.roll, 3), "tilt": round(self.tilt, 4),
            "dof": self.dof,
        }


def profile_for(industry: str) -> str:
    return INDUSTRIES.get(industry.strip().lower(), "default")


def plan_shot(
    *, industry: str, style: Style, rng: np.random.Generator, seed: int,
    variant: int, long_side: int,
) -> Plan:
    """Pick aspect, framing and placement for one image of an order.

    Aspects cycle with ``variant`` from a starting point set by ``seed`` alone, so
    an order's images come in several shapes rather than by luck; ``rng`` (seeded
    with seed and variant) picks the rest.
    """
    if long_side < 64 or long_side > 8192:
        raise EngineError(f"long_side must be 64..8192, got {long_side}")
    profile = profile_for(industry)
    prof = PROFILES[profile]

    aspects = prof["aspects"]
    if style.framing == "wide" and profile != "fashion":
        aspects = ("16:9", "3:2") + aspects
    start = int(np.random.default_rng([seed & 0xFFFFFFFF, 0xA5]).integers(len(aspects)))
    aspect = aspects[(start + variant) % len(aspects)]
    aw, ah = ASPECTS[aspect]
    if aw >= ah:
        size = (long_side, int(round(long_side * ah / aw)))
    else:
        size = (int(round(long_side * aw / ah)), long_side)

    floor_at = float(rng.uniform(*prof["floor"]))
    height = float(rng.uniform(*prof["height"]))
    width = float(prof["width"])
    zoom = float(rng.uniform(*prof["zoom"]))
    dof = float(prof["dof"])
    framing = style.framing
    if framing == "close":
        height, width, zoom, dof = height * 1.2, width * 1.15, zoom * 0.75, dof * 1.5
    elif framing == "wide":
        height, width, zoom = height * 0.8, width * 0.8, 1.0
    elif framing == "minimal":
        height, width = height * 0.75, width * 0.75
    elif framing == "top":
        floor_at = min(floor_at, 0.72)
    height = min(height, floor_at - 0.06)

    # Product across the frame: thirds or centre, as asked, else by the seed.
    if framing in ("centered", "minimal") or profile == "fashion":
        center_x = 0.5 + float(rng.uniform(-0.02, 0.02))
    elif framing == "thirds":
        center_x = (1 / 3, 2 / 3)[int(rng.integers(2))]
    else:
        center_x = (0.5, 0.5, 0.4, 0.6, 1 / 3, 2 / 3)[int(rng.integers(6))]

    roll = float(rng.uniform(-MAX_ROLL_DEG, MAX_ROLL_DEG))
    # Table tops are shot looking down a little; other frames tilt either way.
    # Limitation: the product is a 2-D cutout, so the keystone tilts its outline
    # but never shows its top; a product photographed from above (or a 3-D or
    # multi-view product model) would be needed for real top-down framing.
    if profile == "food" or framing == "top":
        tilt = float(rng.uniform(0.03, 0.06)) + (0.02 if framing == "top" else 0.0)
    else:
        tilt = float(rng.uniform(-0.02, 0.02))
    return Plan(
        industry=industry.strip().lower(), profile=profile, aspect=aspect,
        size=size, floor_at=floor_at, height=height, width=width,
        center_x=center_x, zoom=min(zoom, 1.0), roll=roll, tilt=tilt, dof=dof,
        lighting=style.lighting,
    )


def scenery_crop(
    scene_size: tuple[int, int], floor_y: float, *, out_size: tuple[int, int],
    zoom: float, floor_at: float, pan: float,
) -> tuple[float, float, float, float]:
    """The (x0, y0, w, h) window of the scenery shown, in scenery pixels.

    The window keeps the output aspect, is ``zoom`` times the largest such
    window, and is placed so the scenery's floor line lands near ``floor_at``;
    ``pan`` (-1..1) slides it sideways within what the scenery allows.
    """
    sw, sh = scene_size
    ow, oh = out_size
    aspect = ow / oh
    h_max = min(sh, sw / aspect)
    h = h_max * zoom
    w = h * aspect

    y0 = floor_y * sh - floor_at * h
    y0 = min(max(y0, 0.0), sh - h)
    x0 = (sw - w) / 2 + pan * (sw - w) / 2
    return x0, y0, w, h


def crop_matrix(
    crop: tuple[float, float, float, float], out_size: tuple[int, int],
) -> np.ndarray:
    """Affine scenery -> level output frame for a crop window."""
    x0, y0, w, _ = crop
    s = out_size[0] / w
    return np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], np.float64)


def roll_matrix(out_size: tuple[int, int], degrees: float) -> np.ndarray:
    """Camera roll about the frame centre, zoomed just enough to hide the corners."""
    w, h = out_size
    t = math.radians(abs(degrees))
    zoom = math.cos(t) + math.sin(t) * max(w / h, h / w)
    m = np.array(
        [[math.cos(math.radians(degrees)), math.sin(math.radians(degrees))],
         [-math.sin(math.radians(degrees)), math.cos(math.radians(degrees))]],
        np.float64,
    ) * zoom
    c = np.array([w / 2, h / 2])
    return np.hstack([m, (c - m @ c)[:, None]])


def camera_matrix(out_size: tuple[int, int], *, roll: float, tilt: float) -> np.ndarray:
    """3x3 camera move applied to every layer: a roll, then a keystone that
    widens the bottom of the frame by ``tilt`` (the camera looking down a little;
    negative looks up), zoomed so no corner shows outside the scenery."""
    w, h = out_size
    r3 = np.vstack([roll_matrix(out_size, roll), [0, 0, 1]])
    g = -2.0 * tilt / h
    c = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1]], np.float64)
    keystone = np.array([[1, 0, 0], [0, 1, 0], [0, g, 1]], np.float64)
    zoom = np.diag([1 + abs(tilt), 1 + abs(tilt), 1.0])
    back = np.array([[1, 0, w / 2], [0, 1, h / 2], [0, 0, 1]], np.float64)
    return back @ zoom @ keystone @ c @ r3


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """``outer`` after ``inner``, both 2x3."""
    a = np.vstack([outer, [0, 0, 1]])
    b = np.vstack([inner, [0, 0, 1]])
    return (a @ b)[:2]


def place_matrix(
    bbox: tuple[int, int, int, int], *, scale: float, anchor: tuple[float, float],
    at: tuple[float, float],
) -> np.ndarray:
    """Scale the ``bbox`` (x0, y0, x1, y1) of a source so that its point at the
    fractional ``anchor`` (0..1 across, 0..1 down the box) lands on ``at``."""
    x0, y0, x1, y1 = bbox
    ax = x0 + anchor[0] * (x1 - x0)
    ay = y0 + anchor[1] * (y1 - y0)
    return np.array(
        [[scale, 0, at[0] - ax * scale], [0, scale, at[1] - ay * scale]], np.float64
    )


def fit_scale(
    bbox: tuple[int, int, int, int], *, max_w: float, max_h: float,
) -> float:
    x0, y0, x1, y1 = bbox
    return min(max_w / max(x1 - x0, 1), max_h / max(y1 - y0, 1))
