"""Procedural surface textures for sceneries, seen from straight above.

Every texture is a float32 ``(H, W, 3)`` array in 0..1 (sRGB values), drawn from
value noise: random grids upsampled with cv2 and summed over octaves, which is
far cheaper than Perlin noise in NumPy and looks the same once blurred by depth
of field. Sizes are the caller's; they render at reduced resolution and warp the
result into perspective.
"""

from __future__ import annotations

import cv2
import numpy as np

from lightbox.engine.types import RGB, EngineError

MATERIALS = (
    "paper", "marble", "wood", "walnut", "concrete", "linen", "stone", "terrazzo",
    "slate", "velvet", "sand",
)

# A representative colour per material, for a scene's "surface" palette and
# for tinting when the text names no colour.
BASE_COLORS: dict[str, RGB] = {
    "paper": (236, 233, 228),
    "marble": (236, 234, 230),
    "wood": (196, 154, 108),
    "walnut": (112, 76, 52),
    "concrete": (158, 156, 152),
    "linen": (226, 218, 202),
    "stone": (214, 198, 172),
    "terrazzo": (236, 231, 222),
    "slate": (78, 82, 88),
    "velvet": (120, 40, 60),
    "sand": (222, 200, 162),
}


def fbm(
    rng: np.random.Generator,
    size: tuple[int, int],
    *,
    cell: float,
    octaves: int = 4,
    persistence: float = 0.5,
    stretch: tuple[float, float] = (1.0, 1.0),
) -> np.ndarray:
    """Fractal value noise of ``size`` (w, h), zero mean and unit std.

    ``cell`` is the pixel size of the coarsest feature; ``stretch`` (sx, sy)
    lengthens features along x or y (wood grain, stone bands).
    """
    w, h = size

    # When even the finest octave is several pixels wide, build the noise on a
    # coarser grid and upsample once: same look, a fraction of the work.
    finest = cell / 2 ** (octaves - 1)
    fx = int(np.clip(finest * stretch[0] / 3, 1, 8))
    fy = int(np.clip(finest * stretch[1] / 3, 1, 8))
    ww, wh = max(2, -(-w // fx)), max(2, -(-h // fy))
    out = np.zeros((wh, ww), np.float32)
    amp = 1.0
    for octave in range(octaves):
        c = cell / (2**octave)
        gw = max(2, int(round(w / max(c * stretch[0], 1e-3))) + 2)
        gh = max(2, int(round(h / max(c * stretch[1], 1e-3))) + 2)
        grid = rng.standard_normal((gh, gw), dtype=np.float32)
        out += amp * cv2.resize(grid, (ww, wh), interpolation=cv2.INTER_CUBIC)
        amp *= persistence
    if (ww, wh) != (w, h):
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    out -= out.mean()
    return out / (out.std() + 1e-6)


def _rgb(color: RGB | tuple[float, ...]) -> np.ndarray:
    return np.asarray(color, np.float32) / 255.0


def _shade(base: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Multiply an RGB base by a per-pixel brightness map."""
    return base[None, None, :] * value[..., None]


def _marble(rng, size, tint, dark):
    w, h = size
    base = tint if tint is not None else (
        _rgb((40, 40, 44)) if dark else _rgb(BASE_COLORS["marble"]))
    vein_color = _rgb((232, 228, 220)) if dark else _rgb((128, 126, 128))

    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    clouds = fbm(rng, size, cell=w / 3, octaves=4)
    # Few octaves in the warp: more make the veins curl into contour-map loops.
    warp = fbm(rng, size, cell=w / 1.5, octaves=3, persistence=0.45)
    angle = rng.uniform(-0.9, 0.9) + np.pi / 4
    u = (xx * np.cos(angle) + yy * np.sin(angle)) / w

    # Long veins: bands across the slab, bent by a gentle warp. The warp stays
    # weak against the band frequency, or the bands close into rings.
    veins = np.zeros((h, w), np.float32)
    for freq, turb, sharp, weight in ((2.2, 0.9, 90, 0.9), (5.0, 1.1, 50, 0.3)):
        phase = u * freq * np.pi + warp * turb + rng.uniform(0, np.pi)
        veins += weight * (1.0 - np.abs(np.sin(phase))) ** sharp

    # Hairline cracks: ridged noise, which branches like real calcite veins.
    ridged = 1.0 - np.abs(fbm(rng, size, cell=w / 1.5, octaves=4, persistence=0.5))
    veins += 0.25 * np.clip(ridged, 0, 1) ** 30
    fine = fbm(rng, size, cell=w / 10, octaves=3)
    veins *= np.clip(0.55 + 0.45 * fine, 0.0, 1.2)
    halo = cv2.GaussianBlur(veins, (0, 0), 4.0)
    veins = cv2.GaussianBlur(np.clip(veins + 0.5 * halo, 0, 1), (0, 0), 0.7)

    tex = _shade(base, 1.0 + 0.025 * clouds)
    mix = veins[..., None] * 0.9
    return tex * (1 - mix) + vein_color[None, None, :] * mix


def _wood(rng, size, tint, dark, walnut=False):
    w, h = size
    base = tint if tint is not None else _rgb(
        BASE_COLORS["walnut" if walnut or dark else "wood"])

    # Planks run left to right; each has its own tone and ring phase.
    n_planks = int(rng.integers(3, 6))
    edges = np.sort(rng.uniform(0.1, 0.9, n_planks - 1)) * h
    edges = np.concatenate([[0.0], edges, [h]])
    yy = np.arange(h, dtype=np.float32)[:, None]
    plank = np.searchsorted(edges, yy[:, 0], side="right") - 1
    tones = rng.uniform(0.86, 1.12, n_planks + 1).astype(np.float32)
    phases = rng.uniform(0, 50, n_planks + 1).astype(np.float32)

    grain = fbm(rng, size, cell=w / 14, octaves=5, stretch=(16.0, 0.3))
    warp = fbm(rng, size, cell=w / 3, octaves=3, stretch=(4.0, 1.0))
    rings = np.sin((yy * 0.28 + phases[plank][:, None]) + warp * 2.5)
    rings = np.sign(rings) * np.abs(rings) ** 0.35
    value = tones[plank][:, None] * (1.0 + 0.09 * grain + 0.05 * rings)

    gap = np.zeros(h, np.float32)
    for e in edges[1:-1]:
        gap += np.exp(-((np.arange(h) - e) ** 2) / 2.0)
    value = value * (1.0 - 0.55 * np.clip(gap, 0, 1)[:, None])
    tex = _shade(base, value)

    # Late wood is a little redder and darker, which reads as real timber.
    red = np.clip(rings, 0, 1)[..., None] * _rgb((10, -4, -8))[None, None, :]
    return tex + red


def _concrete(rng, size, tint, dark):
    w, h = size
    base = tint if tint is not None else _rgb((92, 92, 92) if dark else (168, 166, 161))
    mottle = fbm(rng, size, cell=w / 4, octaves=6, persistence=0.55)
    fine = rng.standard_normal((h, w)).astype(np.float32)
    fine = cv2.GaussianBlur(fine, (0, 0), 0.7)
    tex = _shade(base, 1.0 + 0.07 * mottle + 0.05 * fine)

    pits = np.zeros((h, w), np.float32)
    for _ in range(int(w * h / 3000)):
        x, y = rng.integers(0, w), rng.integers(0, h)
        cv2.circle(pits, (int(x), int(y)), int(rng.integers(1, 3)), 1.0, -1,
                   cv2.LINE_AA)
    pits = cv2.GaussianBlur(pits, (0, 0), 0.6)
    return tex * (1.0 - 0.18 * pits[..., None])


def _linen(rng, size, tint, dark):
    w, h = size
    base = tint if tint is not None else _rgb(
        (70, 64, 60) if dark else BASE_COLORS["linen"])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)

    # A plain weave: threads alternate over and under, so the pattern is a
    # fine checker of short dashes, irregular in thickness (slubs).
    period = 3.0
    over = np.sin(xx * np.pi / period) * np.sin(yy * np.pi / period)
    slubs = fbm(rng, size, cell=w / 10, octaves=3, stretch=(6.0, 0.2))
    irregular = fbm(rng, size, cell=4, octaves=2)
    weave = over * (0.6 + 0.4 * irregular)

    # Soft folds: a cloth laid on a table is never flat.
    folds = fbm(rng, size, cell=w / 2, octaves=2)
    drape = np.sin(xx / w * rng.uniform(3, 5) + folds * 1.5 + yy / h * 2)
    wrinkles = fbm(rng, size, cell=w / 5, octaves=3, stretch=(2.5, 0.6))
    value = (1.0 + 0.05 * weave + 0.02 * slubs + 0.07 * drape
             + 0.025 * wrinkles)
    return _shade(base, value)


def _stone(rng, size, tint, dark, slate=False):
    w, h = size
    if slate or dark:
        base = tint if tint is not None else _rgb(BASE_COLORS["slate"])
        layers = fbm(rng, size, cell=w / 3, octaves=6, stretch=(3.0, 0.6))
        steps = np.round(layers * 3) / 3
        value = 1.0 + 0.05 * layers + 0.05 * steps
        return _shade(base, value)

    base = tint if tint is not None else _rgb(BASE_COLORS["stone"])
    bands = fbm(rng, size, cell=w / 6, octaves=5, stretch=(6.0, 0.4))
    clouds = fbm(rng, size, cell=w / 3, octaves=4)
    tex = _shade(base, 1.0 + 0.05 * bands + 0.03 * clouds)
    pores = np.zeros((h, w), np.float32)
    for _ in range(int(w * h / 5000)):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        axes = (int(rng.integers(2, 7)), 1)
        cv2.ellipse(pores, (x, y), axes, 0, 0, 360, 1.0, -1, cv2.LINE_AA)
    pores = cv2.GaussianBlur(pores, (0, 0), 0.8)
    return tex * (1.0 - 0.12 * pores[..., None])


def _terrazzo(rng, size, tint, dark):
    w, h = size
    base = tint if tint is not None else _rgb(
        (60, 60, 62) if dark else BASE_COLORS["terrazzo"])
    tex = _shade(base, 1.0 + 0.015 * fbm(rng, size, cell=w / 5, octaves=4))
    chips = [(196, 108, 72), (120, 120, 118), (40, 40, 42), (165, 180, 150),
             (230, 214, 190), (236, 190, 170)]
    for _ in range(int(w * h / 500)):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(1.5, 9.0) if rng.random() < 0.85 else rng.uniform(9, 18)
        k = int(rng.integers(4, 8))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        rad = r * rng.uniform(0.55, 1.0, k)
        pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1)
        color = tuple(float(c) / 255 for c in chips[int(rng.integers(len(chips)))])
        cv2.fillPoly(tex, [np.round(pts * 4).astype(np.int32)], color, cv2.LINE_AA,
                     shift=2)
    return tex


def _velvet(rng, size, tint, dark):
    w, h = size
    base = tint if tint is not None else _rgb(BASE_COLORS["velvet"])
    sheen = fbm(rng, size, cell=w / 2, octaves=3)
    fuzz = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 0.8)
    return _shade(base, 1.0 + 0.18 * sheen + 0.03 * fuzz)


def _sand(rng, size, tint, dark):
    w, h = size
    base = tint if tint is not None else _rgb(BASE_COLORS["sand"])
    yy = np.arange(h, dtype=np.float32)[:, None]
    warp = fbm(rng, size, cell=w / 3, octaves=3, stretch=(3.0, 1.0))
    ripples = np.sin(yy * 0.35 + warp * 4.0)
    grain = rng.standard_normal((h, w)).astype(np.float32)
    clouds = fbm(rng, size, cell=w / 3, octaves=4)
    return _shade(base, 1.0 + 0.04 * ripples + 0.05 * grain + 0.04 * clouds)


def _paper(rng, size, tint, dark):
    w = size[0]
    base = tint if tint is not None else _rgb(BASE_COLORS["paper"])
    return _shade(base, 1.0 + 0.004 * fbm(rng, size, cell=w / 12, octaves=3))


def floor_texture(
    material: str,
    rng: np.random.Generator,
    size: tuple[int, int],
    *,
    tint: RGB | None = None,
    dark: bool = False,
) -> np.ndarray:
    """Like :func:`material_texture`, oriented to lie on a floor or table.

    Wood boards run away from the camera: boards running across the frame
    become thin stripes in perspective and read as water, not timber.
    """
    if material in ("wood", "walnut"):
        w, h = size
        tex = material_texture(material, rng, (h, w), tint=tint, dark=dark)
        return np.ascontiguousarray(tex.transpose(1, 0, 2))
    return material_texture(material, rng, size, tint=tint, dark=dark)


def material_texture(
    material: str,
    rng: np.random.Generator,
    size: tuple[int, int],
    *,
    tint: RGB | None = None,
    dark: bool = False,
) -> np.ndarray:
    """A top-view texture of ``material``; ``dark`` picks its low-key variant.

    ``tint`` replaces the material's own base colour (a colour named in the text).
    """
    w, h = size
    if w < 8 or h < 8:
        raise EngineError(f"texture size must be at least 8x8, got {size}")
    tint_arr = None if tint is None else _rgb(tint)
    makers = {
        "paper": _paper, "marble": _marble, "wood": _wood, "concrete": _concrete,
        "linen": _linen, "stone": _stone, "terrazzo": _terrazzo,
        "velvet": _velvet, "sand": _sand,
    }
    if material == "walnut":
        tex = _wood(rng, size, tint_arr, dark, walnut=True)
    elif material == "slate":
        tex = _stone(rng, size, tint_arr, dark, slate=True)
    elif material in makers:
        tex = makers[material](rng, size, tint_arr, dark)
    else:
        raise EngineError(f"unknown material {material!r}; known: {MATERIALS}")
    return np.clip(tex, 0.0, 1.0).astype(np.float32)


# Surfaces placed in a scene


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; wide ones run on a downsampled copy (they lose nothing)."""
    if sigma < 6:
        return cv2.GaussianBlur(img, (0, 0), sigma)
    h, w = img.shape[:2]
    k = int(min(sigma / 3, 8))
    small = cv2.resize(img, (max(1, w // k), max(1, h // k)),
                       interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / k)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def vignette(w: int, h: int, strength: float) -> np.ndarray:
    yy = (np.arange(h, dtype=np.float32) / h - 0.5)[:, None]
    xx = (np.arange(w, dtype=np.float32) / w - 0.5)[None, :]
    r2 = (xx * 1.1) ** 2 + (yy * 1.25) ** 2
    return 1.0 - strength * np.clip(r2 / 0.5, 0, 1) ** 1.5


def perspective_floor(
    texture: np.ndarray, size: tuple[int, int], horizon: float, *, spread: float
) -> np.ndarray:
    """Warp a top-view texture onto the ground below ``horizon``.

    The far edge spans the frame and the near edge ``1 + 2*spread`` frames, so
    the texture is foreshortened as a real table seen from a little above.
    """
    w, h = size
    th, tw = texture.shape[:2]
    hy = horizon * h
    src = np.float32([[0, 0], [tw, 0], [tw, th], [0, th]])
    dst = np.float32([[0, hy], [w, hy], [w * (1 + spread), h],
                      [-w * spread, h]])
    mat = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(texture, mat, (w, h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT)


def depth_blur(img: np.ndarray, top: float, sharp: float, sigma: float) -> np.ndarray:
    """Blur rows above ``sharp`` more the nearer they are to ``top``.

    Two blur levels mixed per row stand in for a true per-depth kernel.
    """
    h = img.shape[0]
    near = cv2.GaussianBlur(img, (0, 0), sigma * 0.4)
    far = cv2.GaussianBlur(img, (0, 0), sigma)
    yy = np.arange(h, dtype=np.float32) / h
    t = np.clip((sharp - yy) / max(sharp - top, 1e-3), 0, 1)[:, None, None]
    a = np.clip(t * 2, 0, 1)
    b = np.clip(t * 2 - 1, 0, 1)
    return img * (1 - a) + near * (a - b) + far * b
