"""Background plates for photo shoots, drawn from the preference text.

A scene is built at half resolution in float RGB (0..1): a backdrop (studio
paper, a softly blurred wall, or an outdoor plate from :mod:`outdoor`), a floor
surface warped into perspective, depth-of-field blur that grows with distance,
light falloff and vignette, then a mood grade from the :class:`Style` numbers.
It is upscaled once and given full-resolution film grain, so the eye does not
see the reduced working size. The metadata (floor line, horizon, key light)
comes from the same numbers that drew the picture.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import cv2
import numpy as np

from lightbox.engine import outdoor
from lightbox.engine.textures import (
    BASE_COLORS,
    blur,
    depth_blur,
    fbm,
    floor_texture,
    material_texture,
    perspective_floor,
    smoothstep,
    vignette,
)
from lightbox.engine.types import RGB, EngineError, Light, Scenery, Style
from lightbox.engine.words import named_color, parse_style, tokens

_SEED_MIX = 0x5CE7E  # keeps scenery noise independent of other seeded parts
_NEUTRAL_WALL: RGB = (226, 222, 216)


def render_scenery(
    preferences: str, seed: int, *, size: tuple[int, int] = (1536, 1024)
) -> Scenery:
    """Render the scene ``preferences`` describes; ``size`` is (width, height).

    Unknown text gives a neutral light-grey studio sweep.
    """
    w, h = _check_size(size)
    style = parse_style(preferences or "")
    surface_color = _surface_color(preferences or "")
    if surface_color is not None:
        style = replace(style, colors=tuple(
            c for c in style.colors if c != surface_color))
    rng = np.random.default_rng([_SEED_MIX, int(seed) & 0xFFFFFFFF])
    work = (max(64, w // 2), max(64, h // 2))

    setting = style.setting or "studio"
    if setting == "outdoor":
        plate = outdoor.render(style, rng, work)
        img, light = plate.image, plate.light
        horizon, floor, surface = plate.horizon_y, plate.floor_y, plate.surface
    elif setting == "tabletop":
        img, light, horizon, floor, surface = _tabletop(style, rng, work,
                                                        surface_color)
    else:
        img, light, horizon, floor, surface = _studio(style, rng, work)

    img = grade(img, style)
    half = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    full = cv2.resize(half, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.int16)

    # Grain at full size hides the half-size render and any 8-bit banding.
    amount = 255 * (0.006 + 0.004 * max(0.0, -style.brightness))
    grain = rng.standard_normal((h, w), dtype=np.float32) * amount
    full += np.round(grain).astype(np.int16)[..., None]
    image = np.clip(full, 0, 255).astype(np.uint8)

    return Scenery(
        image=image,
        floor_y=float(floor),
        horizon_y=float(horizon),
        light=light,
        setting=setting,
        surface=surface,
        palette=palette(image),
    )


def _surface_color(text: str) -> RGB | None:
    """A colour named right before a material ("black marble", "pink terrazzo")
    belongs to the surface, not to the wall."""
    words = tokens(text)
    for word, nxt in itertools.pairwise(words):
        color = named_color(word)
        if color is not None and parse_style(nxt).material:
            return color
    return None


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise EngineError(f"size must be (width, height), got {size!r}") from None
    if not (64 <= w <= 8192 and 64 <= h <= 8192):
        raise EngineError(f"size must be 64..8192 on each side, got {size!r}")
    return w, h


def _rgbf(color: RGB) -> np.ndarray:
    return np.asarray(color, np.float32) / 255.0


def backdrop_color(style: Style, rng: np.random.Generator, default: RGB) -> np.ndarray:
    """The wall or paper colour: the first named colour, else ``default``.

    Mood words move a neutral default (dark -> charcoal, warm -> cream) so that
    "dark moody studio" is low key even when no colour is named.
    """
    if style.colors:
        base = _rgbf(style.colors[0])
    else:
        base = _rgbf(default)
        if style.brightness < -0.2:
            base = base * (0.4 + 0.5 * (1 + style.brightness))
        base = base + np.array([0.03, 0.0, -0.03], np.float32) * style.warmth
    jitter = rng.uniform(-0.025, 0.025, 3).astype(np.float32)
    return np.clip(base * (1 + rng.uniform(-0.04, 0.04)) + jitter * 0.4, 0, 1)


def _key_side(style: Style, rng: np.random.Generator) -> float:
    """-1 when the key light is on the left (travels right), +1 on the right."""
    return -1.0 if rng.random() < 0.6 else 1.0


def _light(style: Style, side: float, *, elevation: float, softness: float,
           color: RGB = (255, 250, 242)) -> Light:
    """A Light whose softness follows the lighting word where one was given."""
    soft = {"soft": 0.85, "overcast": 0.95, "window": 0.7, "hard": 0.2,
            "spotlight": 0.3, "golden": 0.35, "backlight": 0.5, "rim": 0.4,
            "side": 0.5, "dappled": 0.35}.get(style.lighting, softness)
    azimuth = 45.0 if side < 0 else 135.0
    if style.lighting == "side":
        azimuth, elevation = (10.0 if side < 0 else 170.0), min(elevation, 35.0)
    elif style.lighting in ("backlight", "rim"):
        azimuth = 90.0 - 25.0 * side
    warm = np.array([12, 0, -20]) * max(style.warmth, 0) + np.array(
        [-18, -4, 10]) * max(-style.warmth, 0)
    color = tuple(int(np.clip(c + d, 0, 255)) for c, d in zip(color, warm, strict=True))
    return Light(azimuth=float(azimuth), elevation=float(elevation),
                 softness=float(soft), color=color)  # type: ignore[arg-type]


def _studio(style: Style, rng: np.random.Generator, size: tuple[int, int]):
    """Seamless paper: a wall that curves into the floor, lit by a softbox."""
    w, h = size
    horizon = float(rng.uniform(0.54, 0.66))
    floor = float(min(0.93, horizon + rng.uniform(0.2, 0.26)))
    side = _key_side(style, rng)
    base = backdrop_color(style, rng, _NEUTRAL_WALL)
    paper = material_texture("paper", rng, size, tint=tuple(  # type: ignore[arg-type]
        int(c * 255) for c in base))

    yy = (np.arange(h, dtype=np.float32) / h)[:, None]
    xx = (np.arange(w, dtype=np.float32) / w)[None, :]

    # The floor faces the key light more than the wall, and the curve between
    # them turns gradually, so brightness rises smoothly through the seam.
    curve = smoothstep(horizon - 0.1, horizon + 0.08, yy)
    wall_fall = 0.74 + 0.24 * np.clip(yy / horizon, 0, 1) ** 0.7
    profile = wall_fall * (1 - curve) + (1.04 - 0.05 * (yy - horizon)) * curve

    hot_x, hot_y = 0.5 + 0.12 * side, horizon * 0.75
    spot = np.exp(-(((xx - hot_x) / 0.45) ** 2 + ((yy - hot_y) / 0.5) ** 2))
    spot_gain = 0.22 if style.lighting == "spotlight" else 0.1
    across = 1.0 + 0.1 * (xx - 0.5) * side
    light = profile * across * (0.92 + spot_gain * spot)

    if style.lighting == "spotlight" or style.brightness < -0.4:
        pool = np.exp(-(((xx - 0.5) / 0.28) ** 2 + ((yy - floor) / 0.12) ** 2))
        light = light * (0.7 + 0.45 * pool + 0.1 * spot)

    img = paper * (light * vignette(w, h, 0.2))[..., None]
    surface = "paper"
    lt = _light(style, side, elevation=55.0, softness=0.8)
    return img, lt, horizon, floor, surface


def _wall(style: Style, rng: np.random.Generator, size: tuple[int, int], side: float,
          base: np.ndarray) -> np.ndarray:
    """A softly lit, out-of-focus wall with a patch of window light."""
    w, h = size
    yy = (np.arange(h, dtype=np.float32) / h)[:, None]
    xx = (np.arange(w, dtype=np.float32) / w)[None, :]
    shade = (0.78 + 0.1 * yy) * (1.0 + 0.16 * (xx - 0.5) * side)

    # Window light: a sheared bright quad from the key side, thrown far out of
    # focus. It is what makes a plain wall read as a room.
    patch = np.zeros((h, w), np.float32)
    x0 = (0.05 if side < 0 else 0.55) * w + rng.uniform(-0.05, 0.05) * w
    pw, ph = rng.uniform(0.25, 0.38) * w, rng.uniform(0.5, 0.8) * h
    y0 = rng.uniform(0.0, 0.15) * h
    shear = 0.35 * pw * -side
    pts = np.float32([[x0, y0], [x0 + pw, y0], [x0 + pw + shear, y0 + ph],
                      [x0 + shear, y0 + ph]])
    cv2.fillConvexPoly(patch, np.round(pts).astype(np.int32), 1.0, cv2.LINE_AA)
    mullion = int(x0 + pw / 2)
    cv2.line(patch, (mullion, int(y0)), (int(mullion + shear), int(y0 + ph)), 0.0,
             max(2, w // 90), cv2.LINE_AA)
    patch = blur(patch, w / 45)
    leaves = np.zeros_like(patch)
    if style.lighting in ("window", "dappled") or rng.random() < 0.45:
        leaves = _leaf_shadow(rng, size, x0 + pw / 2, side)
    gain = 0.16 if style.lighting in ("window", "soft", "") else 0.1
    if style.brightness < -0.3:
        gain *= 1.6
    shade = shade + gain * patch * (1.0 - 0.8 * leaves) - 0.03 * leaves
    texture = 1.0 + 0.02 * fbm(rng, size, cell=w / 3, octaves=3)
    return base[None, None, :] * (shade * texture)[..., None]


def _leaf_shadow(rng: np.random.Generator, size: tuple[int, int], cx: float,
                 side: float) -> np.ndarray:
    """The soft shadow of a plant between the window and the wall (0..1).

    A few arching stems with leaves along them; the popular "window light
    through a plant" look of lifestyle product photos.
    """
    w, h = size
    mask = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(2, 4))):
        x, y = cx + rng.uniform(-0.12, 0.12) * w, h * rng.uniform(0.75, 1.0)
        angle = -np.pi / 2 + rng.uniform(-0.6, 0.6) + 0.2 * side
        bend = rng.uniform(-0.03, 0.03)
        steps = int(rng.integers(9, 14))
        for i in range(steps):
            nx, ny = x + np.cos(angle) * h * 0.06, y + np.sin(angle) * h * 0.06
            cv2.line(mask, (int(x), int(y)), (int(nx), int(ny)), 1.0,
                     max(1, w // 400), cv2.LINE_AA)
            for flip in (-1, 1):
                leaf = angle + flip * rng.uniform(0.6, 1.1)
                length = h * rng.uniform(0.08, 0.14) * (1 - 0.4 * i / steps)
                lx, ly = nx + np.cos(leaf) * length / 2, ny + np.sin(leaf) * length / 2
                cv2.ellipse(mask, (int(lx), int(ly)),
                            (int(length / 2), max(2, int(length / 6))),
                            float(np.degrees(leaf)), 0, 360, 1.0, -1, cv2.LINE_AA)
            x, y, angle = nx, ny, angle + bend
    return blur(mask, w / 220)


def _tabletop(style: Style, rng: np.random.Generator, size: tuple[int, int],
              surface_color: RGB | None = None):
    """A table top in perspective in front of an out-of-focus wall."""
    w, h = size
    horizon = float(rng.uniform(0.4, 0.52))
    floor = float(min(0.92, horizon + rng.uniform(0.25, 0.32)))
    side = _key_side(style, rng)
    material = style.material or str(rng.choice(["wood", "marble", "linen"]))
    dark = style.brightness < -0.3
    tint = style.colors[1] if len(style.colors) > 1 else None
    if surface_color is not None:
        # A dark colour picks the material's dark variant (black marble keeps
        # its light veins); white keeps the natural one; others tint it.
        lum = float(np.dot(surface_color, (0.299, 0.587, 0.114)))
        dark, tint = lum < 70, (None if lum < 70 or lum > 235 else surface_color)

    base = backdrop_color(style, rng, _NEUTRAL_WALL)
    wall = _wall(style, rng, size, side, base)
    wall = blur(wall, w / 240)

    tex = floor_texture(material, rng, (w, int(h * 0.9)), tint=tint, dark=dark)
    table = perspective_floor(tex, size, horizon, spread=rng.uniform(0.45, 0.7))

    yy = (np.arange(h, dtype=np.float32) / h)[:, None]
    xx = (np.arange(w, dtype=np.float32) / w)[None, :]
    across = 1.0 + 0.14 * (xx - 0.5) * side
    fade = 0.9 + 0.12 * smoothstep(horizon, 1.0, yy) - 0.1 * (yy > 0.9) * (yy - 0.9)
    table = table * (across * fade)[..., None]

    # The table's far edge catches the light; the wall right behind it is in
    # the table's shadow.
    hy = int(horizon * h)
    edge = np.exp(-((np.arange(h) - hy - 1.5) ** 2) / 3.0).astype(np.float32)
    table = table + 0.08 * edge[:, None, None]
    behind = 1.0 - 0.18 * np.exp(-np.clip(hy - np.arange(h), 0, None) / (h * 0.06))
    wall = wall * behind.astype(np.float32)[:, None, None]

    mask = (yy >= horizon).astype(np.float32)
    mask = cv2.GaussianBlur(np.repeat(mask, w, 1), (0, 0), 0.8)[..., None]
    img = wall * (1 - mask) + table * mask
    img = depth_blur(img, horizon, floor, sigma=w / 260)
    img = img * vignette(w, h, 0.22)[..., None]

    lt = _light(style, side, elevation=40.0, softness=0.7)
    return img, lt, horizon, floor, material


def grade(img: np.ndarray, style: Style) -> np.ndarray:
    """Apply the mood numbers: exposure, white balance, saturation, contrast."""
    out = img.astype(np.float32, copy=True)
    if style.brightness:
        gamma = float(np.exp(-0.3 * style.brightness))
        out = np.clip(out, 0, 1) ** gamma * (1 + 0.12 * style.brightness)
    if style.warmth:
        out = out * np.array([1 + 0.07 * style.warmth, 1 + 0.01 * style.warmth,
                              1 - 0.09 * style.warmth], np.float32)
    if style.saturation:
        lum = out @ np.array([0.299, 0.587, 0.114], np.float32)
        k = 1 + 0.6 * style.saturation
        out = lum[..., None] + (out - lum[..., None]) * k
    if style.contrast:
        mid = float(out.mean())
        out = mid + (out - mid) * (1 + 0.35 * style.contrast)
    return np.clip(out, 0, 1)


def palette(image: np.ndarray, *, k: int = 5) -> tuple[RGB, ...]:
    """Up to ``k`` dominant colours, most common first (k-means, fixed start).

    Runs on a 64-pixel-wide thumbnail; starting centres at luminance quantiles
    keep it deterministic without a random seed.
    """
    small = cv2.resize(image, (64, max(1, 64 * image.shape[0] // image.shape[1])),
                       interpolation=cv2.INTER_AREA)
    px = small.reshape(-1, 3).astype(np.float32)
    lum = px @ np.array([0.299, 0.587, 0.114], np.float32)
    order = np.argsort(lum, kind="stable")
    centres = px[order[((np.arange(k) + 0.5) / k * len(px)).astype(int)]].copy()

    for _ in range(12):
        d = ((px[:, None, :] - centres[None]) ** 2).sum(-1)
        label = d.argmin(1)
        for j in range(k):
            members = px[label == j]
            if len(members):
                centres[j] = members.mean(0)

    counts = np.bincount(label, minlength=k)
    order = np.argsort(-counts, kind="stable")
    keep = [j for j in order if counts[j] >= 0.03 * len(px)]
    # Report the member nearest each centre: a colour that is really in the image.
    colors = []
    for j in keep[:k]:
        members = px[label == j]
        best = members[((members - centres[j]) ** 2).sum(1).argmin()]
        colors.append(tuple(int(round(c)) for c in best))
    return tuple(colors)  # type: ignore[return-value]


def scenery_from_photo(rgb: np.ndarray) -> Scenery:
    """Best-effort metadata for an uploaded background photo.

    The horizon is the strongest horizontal edge in the middle band (else 0.62);
    the key light travels down the brightness gradient of the blurred image.
    # Limitation: a plane fit cannot tell a bright window from a lit wall, and
    # the elevation is a guess; a shadow detector would lift both.
    """
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] < 3:
        shape = getattr(rgb, "shape", None)
        raise EngineError(f"expected an RGB image (H, W, 3), got shape {shape}")
    img = rgb[..., :3]
    if img.dtype != np.uint8:
        # Float images in 0..1 are common from other libraries; scale them.
        peak = float(np.nanmax(img)) if img.size else 0.0
        img = img * 255.0 if np.issubdtype(img.dtype, np.floating) and peak <= 1.0 \
            else img
        img = np.clip(np.nan_to_num(img), 0, 255).astype(np.uint8)

    h, w = img.shape[:2]
    sw = 256
    sh = max(8, int(round(sw * h / w)))
    small = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA)
    lum = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    lum = cv2.GaussianBlur(lum, (0, 0), 1.5)

    gy = np.abs(cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3))
    gx = np.abs(cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3))
    rows = gy.mean(1) - 0.5 * gx.mean(1)
    lo, hi = int(0.3 * sh), int(0.85 * sh)
    band = rows[lo:hi]
    horizon = 0.62
    if band.size and band.max() > 3 * np.median(np.abs(rows)) + 0.01:
        horizon = (lo + int(band.argmax())) / sh
    floor = min(0.95, horizon + 0.45 * (1 - horizon))

    # Fit lum = a + b*x + c*y + d*(below the horizon): the step term absorbs a
    # floor that is simply darker than the wall, which is not a light direction.
    # Light travels from bright to dark.
    blurred = cv2.GaussianBlur(lum, (0, 0), sw / 64)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    below = (yy.ravel() >= horizon * sh).astype(np.float32)
    a = np.stack([np.ones(sh * sw), xx.ravel() / sw, yy.ravel() / sh, below], 1)
    coef, *_ = np.linalg.lstsq(a, blurred.ravel(), rcond=None)
    bx, by = -coef[1], -coef[2]
    azimuth = float(np.degrees(np.arctan2(by, bx)) % 360) if abs(bx) + abs(by) > 0.02 \
        else 60.0
    strength = float(np.hypot(bx, by))
    softness = float(np.clip(1.0 - strength * 2.5, 0.2, 0.95))
    mean = small.reshape(-1, 3).mean(0)
    color = tuple(int(c) for c in np.clip(255 * mean / max(mean.max(), 1), 0, 255))

    return Scenery(
        image=np.ascontiguousarray(img),
        floor_y=float(floor),
        horizon_y=float(horizon),
        light=Light(azimuth=azimuth, elevation=45.0, softness=softness,
                    color=color),  # type: ignore[arg-type]
        setting="photo",
        surface="photo",
        palette=palette(img),
    )


__all__ = ["BASE_COLORS", "grade", "palette", "render_scenery", "scenery_from_photo"]
