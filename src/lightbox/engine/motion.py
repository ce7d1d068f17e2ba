"""Camera moves for videos: what the words ask for, where the camera is when, and
the stage it films (the image fitted to the frame, and where its product is).

A camera state is ``(zoom, cx, cy)`` over a *stage* image: ``zoom`` is relative to
the scale at which the stage just covers the output frame (1 = cover), and
``(cx, cy)`` is the stage point shown at the frame centre, as fractions of the
stage's width and height. Every state a path yields keeps the output covered, so
frames never show a border.

With layers, each layer follows the camera's zoom and its sideways travel by its
own *depth* factors: 1 moves with the camera, 0.4 moves less (far away), a
negative factor moves against it (the subject an orbiting camera circles). All
layers coincide at the path's alignment time, where the frame equals the still
photograph.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import cv2
import numpy as np

# First match wins, so "zoom out" is a pull before "zoom" can make it a push.
_WORDS = (
    ("pull", ("pull out", "zoom out", "pull back", "dolly out", "reveal",
              "revealing", "pullout")),
    ("orbit", ("orbit", "orbiting", "parallax", "3d", "rotate", "rotating")),
    ("pan", ("pan", "panning", "left", "right", "truck", "sideways", "tracking")),
    ("push", ("push", "push in", "pushing", "zoom", "zoom in", "zooming", "dolly",
              "slow")),
)
_SLOW = ("slow", "slowly", "subtle", "gentle", "calm")
_FAST = ("fast", "dynamic", "energetic", "quick")
_MASK64 = (1 << 64) - 1

# Per-kind (zoom, travel) depth factors of the foreground and the background. An
# orbit sweeps the background past a product that drifts slightly the other way
# and grows a little, as if the camera arced in around it.
# Limitation: with two layers the floor belongs to the background, so in pans and
# orbits the product's contact point slides a little over its floor (its shadow
# moves with it); a depth map of the scene (floor_y ramp) would lift it.
_DEPTHS = {
    "push": ((1.0, 1.0), (0.4, 0.4)),
    "pull": ((1.0, 1.0), (0.4, 0.4)),
    "pan": ((1.0, 1.0), (0.45, 0.45)),
    "orbit": ((1.0, -0.35), (0.4, 1.0)),
}

_SEED_MOTION = 0x6D6F74  # mixes the seed for choices made about motion


@dataclass(frozen=True)
class Motion:
    kind: str  # "push", "pull", "pan" or "orbit"
    direction: int  # +1: the camera travels right (content slides left), -1: left
    strength: float  # 1 normal, below 1 slow or subtle, above 1 dynamic


@dataclass(frozen=True)
class State:
    zoom: float
    cx: float
    cy: float


@dataclass(frozen=True)
class Path:
    """A camera move from ``start`` to ``end`` with ease-in-out timing."""

    start: State
    end: State
    align: float  # time in 0..1 at which every layer shows the still photo
    depths: tuple[tuple[float, float], ...]  # per layer: (zoom, travel) factors
    visible: tuple[float, float]  # stage fraction (w, h) seen at zoom 1
    # Layered zooms scale about this stage point (the product's base), so every
    # layer keeps it on the same spot and the product does not slide on its floor.
    anchor: tuple[float, float] | None = None

    def states(self, frames: int, depth: tuple[float, float]) -> np.ndarray:
        """``(frames, 3)`` array of zoom, cx, cy for one layer, every frame."""
        t = np.linspace(0.0, 1.0, frames) if frames > 1 else np.zeros(1)
        eased = ease(t)
        a = ease(np.array([self.align]))[0]

        log_z0, log_z1 = math.log(self.start.zoom), math.log(self.end.zoom)
        log_z = log_z0 + (log_z1 - log_z0) * eased
        cx = self.start.cx + (self.end.cx - self.start.cx) * eased
        cy = self.start.cy + (self.end.cy - self.start.cy) * eased

        # The layer keeps the aligned state plus `depth` times the camera's move.
        zoom_depth, travel_depth = depth
        log_za = log_z0 + (log_z1 - log_z0) * a
        cxa = self.start.cx + (self.end.cx - self.start.cx) * a
        cya = self.start.cy + (self.end.cy - self.start.cy) * a
        zoom = np.exp(log_za + zoom_depth * (log_z - log_za))
        if self.anchor is None:
            cx = cxa + travel_depth * (cx - cxa)
            cy = cya + travel_depth * (cy - cya)
        else:
            ax, ay = self.anchor
            za = math.exp(log_za)
            cx = ax - (ax - cxa) * za / zoom
            cy = ay - (ay - cya) * za / zoom

        zoom = np.maximum(zoom, 1.0)
        cx = _clamp_centre(cx, self.visible[0] / zoom)
        cy = _clamp_centre(cy, self.visible[1] / zoom)
        return np.stack([zoom, cx, cy], axis=1)


def ease(t: np.ndarray) -> np.ndarray:
    """Sine ease-in-out: starts and stops at rest, as a camera operator would."""
    return (1.0 - np.cos(np.pi * np.clip(t, 0.0, 1.0))) / 2.0


def parse_motion(suggestion: str, *, seed: int, index: int = 0,
                 default: str | None = "push") -> Motion:
    """Read the camera move from free text.

    With no motion word, ``default`` is used; ``default=None`` cycles through
    moves by ``index`` so the images of a reel do not all move alike.
    """
    text = " " + " ".join(re.findall(r"[a-z0-9]+", suggestion.lower())) + " "
    # One offset per seed: consecutive images then cycle through moves and
    # alternate directions, rather than repeating by chance.
    offset = int(np.random.default_rng([seed & _MASK64, _SEED_MOTION]).integers(4))
    named = [kind for kind, words in _WORDS if any(f" {w} " in text for w in words)]
    if named:
        kind = named[0]
    elif default is not None:
        kind = default
    else:
        kind = ("push", "pan", "pull", "pan")[(index + offset) % 4]

    if " left " in text:
        direction = -1
    elif " right " in text:
        direction = 1
    else:
        direction = 1 if (index // 2 + offset) % 2 else -1

    strength = 1.0
    if any(f" {w} " in text for w in _SLOW):
        strength = 0.65
    elif any(f" {w} " in text for w in _FAST):
        strength = 1.4
    return Motion(kind=kind, direction=direction, strength=strength)


def parse_transition(suggestion: str) -> str:
    """The transition between a reel's images: crossfade (default), slide or wipe."""
    words = set(re.findall(r"[a-z]+", suggestion.lower()))
    if words & {"slide", "slides", "swipe"} and "fade" not in words:
        return "slide"
    if "wipe" in words:
        return "wipe"
    return "crossfade"


def plan_path(motion: Motion, *, seconds: float, visible: tuple[float, float],
              focus: tuple[float, float], anchor: tuple[float, float] | None = None,
              box: tuple[float, float, float, float] | None = None,
              layered: bool = False) -> Path:
    """Choose start and end states for a move lasting ``seconds``.

    ``visible`` is the fraction of the stage's width and height the output shows
    at zoom 1 (one of them is 1 for a cover fit); ``focus`` is the point the
    camera favours (the product's centre), in stage fractions; with layers, a
    push or pull scales about ``anchor`` (the product's base) instead. A pan or
    orbit is shortened or shifted so the product's ``box`` stays in frame.
    """
    vw, vh = visible
    s = motion.strength
    fx, fy = focus
    depths = _DEPTHS[motion.kind] if layered else ((1.0, 1.0),)

    if motion.kind in ("push", "pull"):
        # About 2.8% zoom per second reads as a calm, deliberate dolly.
        z_far, z_near = 1.0, min(1.25, max(1.04, 1.0 + 0.028 * seconds * s))
        wide = State(z_far, _clamp_centre(fx, vw / z_far),
                     _clamp_centre(fy, vh / z_far))
        if layered and anchor is not None:
            ax, ay = anchor
            close = State(z_near, ax - (ax - wide.cx) / z_near,
                          ay - (ay - wide.cy) / z_near)
        else:
            anchor = None
            close = State(z_near, _clamp_centre(fx, vw / z_near),
                          _clamp_centre(fy, vh / z_near))
        if motion.kind == "push":
            return Path(wide, close, 0.0, depths, visible, anchor)
        return Path(close, wide, 1.0, depths, visible, anchor)

    # Pans and orbits travel sideways, so they need zoom for room to move.
    if motion.kind == "pan":
        z0 = 1.06 + 0.004 * seconds * s
        z1 = z0 * 1.02
    else:
        z0 = 1.05 + 0.004 * seconds * s
        z1 = z0 * (1.0 + 0.012 * seconds * s)
    # Each layer's centre sweeps mid +- |travel depth| * travel / 2. Every layer must
    # keep the frame covered; the product's layer should keep the product whole,
    # for which the move may shrink to a third.
    # Limitation: a product within ~5% of the photo's edge can still be cut by
    # the pan's zoom; a push would suit such framings better.
    wanted = 0.05 * seconds * s * vw / z0
    lo, hi = vw / (2 * z0), 1.0 - vw / (2 * z0)
    sweep = max(abs(d[1]) for d in depths)
    travel = min(wanted, (hi - lo) / sweep)
    low, high = lo + sweep * travel / 2, hi - sweep * travel / 2
    reach = (0.5 - 0.04) * vw / z1  # frame half-width less a 4% margin
    if box is not None and box[2] - box[0] < 2 * reach:
        keep = abs(depths[0][1]) / 2  # the product layer's sweep per unit travel
        shorter = travel
        while shorter > travel / 3:
            p_low = max(lo + sweep * shorter / 2, box[2] - reach + keep * shorter)
            p_high = min(hi - sweep * shorter / 2, box[0] + reach - keep * shorter)
            if p_low <= p_high:
                travel, low, high = shorter, p_low, p_high
                break
            shorter *= 0.85
    mid = min(max(fx, low), high)
    cy = _clamp_centre(fy, vh / z0)
    start = State(z0, mid - motion.direction * travel / 2, cy)
    end = State(z1, mid + motion.direction * travel / 2, cy)
    return Path(start, end, 0.5, depths, visible)


def _clamp_centre(c, visible_fraction):
    """Keep a centre where a window of ``visible_fraction`` stays on the stage."""
    half = np.minimum(np.asarray(visible_fraction) / 2.0, 0.5)
    return np.clip(c, half, 1.0 - half)


# Beyond this aspect mismatch a cover crop would cut away too much of an image
# (a square packshot in a 9:16 frame keeps 56% of its width), so the image is
# shown whole over its own edges stretched and blurred, unless its product fits
# the crop anyway.
_FILL_RATIO = 1.5
# Keep at most this much more resolution than the output shows at zoom 1: enough
# for the deepest zoom (1.25) to stay sharp, no more to resample every frame.
_DENSITY = 1.35


def stage(image: np.ndarray, layers, size: tuple[int, int]):
    """Fit the image (and layers) to the output's aspect; find the product.

    Cover-crops, or contains over the image's blurred edges when the aspects
    differ a lot and the product would not fit the crop; resolution beyond what
    the deepest zoom shows is dropped here, once.

    Returns the RGB stage, the premultiplied RGBA product layer or None, and the
    product's centre, base point and box (or None) in stage fractions.
    """
    # Limitation: staging a layered shot holds a few full-resolution copies
    # (premultiplied layer, residual check), ~100 MiB peak for a 1536 px shot
    # and a 1080x1920 output; tiling the checks would lower it.
    width, height = size
    h, w = image.shape[:2]
    focus, box = _product_box(image, layers)
    out_aspect, aspect = width / height, w / h
    visible = (min(1.0, out_aspect / aspect), min(1.0, aspect / out_aspect))
    fits = box is not None and (box[2] - box[0] <= 0.8 * visible[0]
                                and box[3] - box[1] <= 0.8 * visible[1])
    fill = max(aspect / out_aspect, out_aspect / aspect) > _FILL_RATIO and not fits

    needed = min(width / w, height / h) if fill else max(width / w, height / h)
    factor = min(1.0, _DENSITY * needed)
    shrink = (lambda a: a) if factor >= 1.0 else (
        lambda a: cv2.resize(a, (max(1, round(w * factor)), max(1, round(h * factor))),
                             interpolation=cv2.INTER_AREA))
    base = shrink(image)
    foreground = None
    if layers is not None:
        background, straight = layers
        foreground = shrink(_premultiply(straight))
        base, foreground = _match_layers(base, shrink(background), foreground)

    anchor = focus if box is None else ((box[0] + box[2]) / 2, box[3])
    if fill:
        corners = [(0.5, 0.5)] * 2 if box is None else [box[:2], box[2:]]
        base, foreground, (focus, anchor, *corners) = _fill(
            base, foreground, out_aspect, (focus, anchor, *corners))
        box = None if box is None else (*corners[0], *corners[1])
    return base, foreground, focus, anchor, box


def _premultiply(rgba: np.ndarray) -> np.ndarray:
    alpha = rgba[..., 3:].astype(np.uint16)
    rgb = ((rgba[..., :3].astype(np.uint16) * alpha + 127) // 255).astype(np.uint8)
    return np.dstack([rgb, rgba[..., 3]])


def _match_layers(image: np.ndarray, background: np.ndarray,
                  foreground: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Make the layers composite back to ``image`` exactly.

    A compositor may grade the photo after layering; the difference is added to
    the layers so the aligned frame is the approved photo. Under an opaque
    product the background gets the difference of its surroundings instead, so a
    colour grade carries over and no ghost of the product does.
    """
    # The composite as the frames will make it; rounding differences (1-2
    # levels) are not a grade, and most shots stop here.
    alpha8 = foreground[..., 3]
    composite = cv2.add(cv2.multiply(background, cv2.merge([255 - alpha8] * 3),
                                     scale=1 / 255), foreground[..., :3])
    residual = cv2.subtract(image, composite, dtype=cv2.CV_16S)
    if float(np.abs(residual).mean()) < 1.0:
        return background, foreground

    residual = residual.astype(np.float32)
    alpha = alpha8[..., None].astype(np.float32) / 255.0
    seen = (alpha[..., 0] < 0.99).astype(np.float32)
    h, w = seen.shape
    small = (max(1, w // 8), max(1, h // 8))
    sigma = 0.03 * max(small)
    num = cv2.GaussianBlur(cv2.resize(residual * seen[..., None], small,
                                      interpolation=cv2.INTER_AREA), (0, 0), sigma)
    den = cv2.GaussianBlur(cv2.resize(seen, small, interpolation=cv2.INTER_AREA),
                           (0, 0), sigma)
    spread = cv2.resize(num / np.maximum(den, 1e-3)[..., None], (w, h),
                        interpolation=cv2.INTER_LINEAR)
    behind = np.where(seen[..., None] > 0, residual, spread)

    background = np.clip(background + behind + 0.5, 0, 255).astype(np.uint8)
    rgb = np.clip(foreground[..., :3] + alpha * residual + 0.5, 0, 255)
    rgb = np.minimum(rgb, foreground[..., 3:]).astype(np.uint8)
    return background, np.dstack([rgb, foreground[..., 3]])


def _product_box(image: np.ndarray, layers):
    """The product's centre and box, in image fractions (box may be None).

    With layers the product layer says where it is; without, a product on a
    plain or graded backdrop is whatever differs from a smooth surface fitted to
    the border. Busy images give no box and the centre.
    """
    h, w = image.shape[:2]
    step = max(1, max(h, w) // 128)
    if layers is not None:
        mask = layers[1][::step, ::step, 3] > 128
    else:
        small = image[::step, ::step].astype(np.float32)
        sh, sw = small.shape[:2]
        # Model the backdrop as a quadratic surface (gradients, vignettes) fitted
        # to the border pixels.
        ys, xs = np.mgrid[0:sh, 0:sw]
        u, v = xs / sw - 0.5, ys / sh - 0.5
        design = np.stack([np.ones_like(u), u, v, u * u, v * v, u * v], axis=-1)
        edge = np.zeros((sh, sw), bool)
        edge[[0, -1], :] = edge[:, [0, -1]] = True
        weights, *_ = np.linalg.lstsq(design[edge].astype(np.float32), small[edge],
                                      rcond=None)
        backdrop = design.astype(np.float32) @ weights
        if np.percentile(np.abs(small[edge] - backdrop[edge]).max(axis=1), 80) > 20:
            return (0.5, 0.5), None
        mask = np.abs(small - backdrop).max(axis=2) > 32

    if not 0.003 < mask.mean() < 0.6:
        return (0.5, 0.5), None
    ys, xs = np.nonzero(mask)
    sh, sw = mask.shape
    box = (np.percentile(xs, 1) / sw, np.percentile(ys, 1) / sh,
           (np.percentile(xs, 99) + 1) / sw, (np.percentile(ys, 99) + 1) / sh)
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), box


def _fill(base: np.ndarray, foreground, out_aspect: float, points):
    """Contain the image in the output's aspect over its blurred, extended edges."""
    h, w = base.shape[:2]
    if w / h > out_aspect:
        canvas_w, canvas_h = w, round(w / out_aspect)
    else:
        canvas_w, canvas_h = round(h * out_aspect), h
    x0, y0 = (canvas_w - w) // 2, (canvas_h - h) // 2

    # The image's own edges, stretched outwards and blurred: a plain backdrop
    # continues seamlessly, a busy one turns into a soft wash of its colours.
    # Built at 1/16 scale, where the blur is cheap, then scaled up.
    tiny = cv2.resize(base, (max(2, w // 16), max(2, h // 16)),
                      interpolation=cv2.INTER_AREA)
    th, tw = tiny.shape[:2]
    pad_y = max(0, round(canvas_h / 16) - th)
    pad_x = max(0, round(canvas_w / 16) - tw)
    tiny = cv2.copyMakeBorder(tiny, pad_y // 2, pad_y - pad_y // 2, pad_x // 2,
                              pad_x - pad_x // 2, cv2.BORDER_REPLICATE)
    tiny = cv2.GaussianBlur(tiny, (0, 0), 3.0)
    canvas = cv2.resize(tiny, (canvas_w, canvas_h), interpolation=cv2.INTER_CUBIC)
    fill = canvas.copy()
    canvas[y0:y0 + h, x0:x0 + w] = base

    # Feather the seams over a few pixels so no line shows on plain backdrops.
    band = max(2, max(h, w) // 60)
    weight = ((np.arange(band, dtype=np.float32) + 0.5) / band)[:, None, None]
    if y0:
        edges = ((slice(y0, y0 + band), weight),
                 (slice(y0 + h - band, y0 + h), weight[::-1]))
        for rows, w_in in edges:
            canvas[rows] = (canvas[rows] * w_in + fill[rows] * (1 - w_in) + 0.5
                            ).astype(np.uint8)
    else:
        weight = weight.transpose(1, 0, 2)
        edges = ((slice(x0, x0 + band), weight),
                 (slice(x0 + w - band, x0 + w), weight[:, ::-1]))
        for columns, w_in in edges:
            canvas[:, columns] = (canvas[:, columns] * w_in
                                  + fill[:, columns] * (1 - w_in) + 0.5
                                  ).astype(np.uint8)

    if foreground is not None:
        layer = np.zeros((canvas_h, canvas_w, 4), np.uint8)
        layer[y0:y0 + h, x0:x0 + w] = foreground
        foreground = layer
    points = tuple(((x0 + x * w) / canvas_w, (y0 + y * h) / canvas_h)
                   for x, y in points)
    return canvas, foreground, points
