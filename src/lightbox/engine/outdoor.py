"""Outdoor plates: beach, sunset, city, garden, forest, mountain, pool, desert.

Each is a far background drawn as broad shapes and thrown out of focus (a
product photographer shoots these at a wide aperture), above a sharp ground
surface in perspective where the product stands. Working size and float RGB as
in :mod:`scenery`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lightbox.engine.textures import (
    blur,
    depth_blur,
    fbm,
    floor_texture,
    perspective_floor,
    smoothstep,
    vignette,
)
from lightbox.engine.types import Light, Style


@dataclass(frozen=True)
class Plate:
    image: np.ndarray  # float32 RGB 0..1 at working size
    horizon_y: float
    floor_y: float
    light: Light
    surface: str


def _c(*rgb: int) -> np.ndarray:
    return np.asarray(rgb, np.float32) / 255.0


def _grid(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    xx = (np.arange(w, dtype=np.float32) / w)[None, :]
    yy = (np.arange(h, dtype=np.float32) / h)[:, None]
    return xx, yy


def _gradient(h: int, w: int, stops: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """A vertical gradient through (position, colour) stops."""
    ys = np.arange(h, dtype=np.float32) / h
    pos = np.array([p for p, _ in stops], np.float32)
    cols = np.stack([c for _, c in stops])
    rows = np.stack([np.interp(ys, pos, cols[:, k]) for k in range(3)], 1)
    return np.repeat(rows[:, None, :], w, 1).astype(np.float32)


def _clouds(rng, size, amount: float) -> np.ndarray:
    w, _ = size
    n = fbm(rng, size, cell=w / 2.5, octaves=5, stretch=(2.2, 0.8))
    return smoothstep(0.3, 1.6, n) * amount


def _sky(rng, size, top, bottom, horizon: float, clouds: float = 0.5) -> np.ndarray:
    w, h = size
    sky = _gradient(h, w, [(0.0, top), (horizon, bottom), (1.0, bottom)])
    c = _clouds(rng, size, clouds)[..., None]
    return sky * (1 - c) + (0.25 * sky + 0.8) * c


def _ground(style: Style, rng, size, line: float, default: str, *, dark=False):
    material = style.material or default
    w, h = size
    tint = style.colors[1] if len(style.colors) > 1 else None
    tex = floor_texture(material, rng, (w, int(h * 0.8)), tint=tint, dark=dark)
    return perspective_floor(tex, size, line, spread=0.6), material


def _compose(back: np.ndarray, ground: np.ndarray, line: float, floor: float,
             *, back_blur: float, ground_shade: np.ndarray | None = None):
    """Out-of-focus background above ``line``, ground below, depth blur on top."""
    h, w = back.shape[:2]
    back = blur(back, back_blur)
    if ground_shade is not None:
        ground = ground * ground_shade
    _, yy = _grid(w, h)
    mask = cv2.GaussianBlur(np.repeat((yy >= line).astype(np.float32), w, 1),
                            (0, 0), 1.0)[..., None]
    img = back * (1 - mask) + ground * mask
    return depth_blur(img, line, floor, sigma=w / 250)


def _beach(style, rng, size):
    w, h = size
    horizon = float(rng.uniform(0.36, 0.44))
    shore = horizon + float(rng.uniform(0.1, 0.14))
    floor = float(min(0.92, shore + rng.uniform(0.22, 0.3)))
    _, yy = _grid(w, h)

    img = _sky(rng, size, _c(70, 135, 205), _c(205, 228, 242), horizon, 0.6)
    sea = _gradient(h, w, [(horizon, _c(28, 92, 138)), (shore, _c(70, 170, 178))])
    streaks = fbm(rng, size, cell=w / 6, octaves=4, stretch=(10.0, 0.25))
    sea = sea * (1 + 0.08 * streaks[..., None])
    sea_mask = ((yy >= horizon) & (yy < shore + 0.02)).astype(np.float32)
    img = img * (1 - sea_mask[..., None]) + sea * sea_mask[..., None]

    # Foam where the waves break: a wavy band along the shore.
    wave = shore + 0.012 * fbm(rng, (w, 1), cell=w / 5, octaves=3)[0][None, :]
    foam = cv2.GaussianBlur(np.exp(-((yy - wave) / 0.006) ** 2), (0, 0), 1.5)
    foam = foam * (0.5 + 0.5 * smoothstep(-0.5, 1.0, fbm(rng, size, cell=w / 10)))
    sand, material = _ground(style, rng, size, shore, "sand")
    wet = np.exp(-np.clip(yy - wave, 0, None) / 0.05) * (yy >= wave)
    sand = sand * (1 - 0.25 * wet)[..., None]
    img = _compose(img, sand, shore, floor, back_blur=w / 300)
    img = img * (1 - foam[..., None] * 0.6) + foam[..., None] * 0.6
    side = 1.0 if rng.random() < 0.5 else -1.0
    light = Light(azimuth=90 - 40 * side, elevation=62.0, softness=0.2,
                  color=(255, 250, 238))
    return Plate(img, horizon, floor, light, material)


def _sunset(style, rng, size):
    w, h = size
    horizon = float(rng.uniform(0.4, 0.5))
    ledge = horizon + float(rng.uniform(0.12, 0.18))
    floor = float(min(0.92, ledge + rng.uniform(0.2, 0.26)))
    xx, yy = _grid(w, h)
    sun_x = float(rng.uniform(0.25, 0.75))
    sun_y = horizon - float(rng.uniform(0.03, 0.09))

    sky = _gradient(h, w, [(0.0, _c(52, 58, 110)), (horizon * 0.45, _c(160, 96, 128)),
                           (horizon * 0.8, _c(244, 150, 96)),
                           (horizon, _c(255, 200, 120)), (1.0, _c(255, 200, 120))])
    if style.colors:
        tint = _c(*style.colors[0])
        sky = sky * (0.7 + 0.3 * tint / max(float(tint.max()), 1e-3))
    clouds = _clouds(rng, size, 0.7)[..., None]
    cloud_col = sky * 0.75 + _c(255, 170, 120) * 0.25 * (1 - yy[..., None])
    sky = sky * (1 - clouds) + cloud_col * clouds

    d = np.sqrt(((xx - sun_x) * w / h) ** 2 + (yy - sun_y) ** 2)
    glow = np.exp(-d / 0.12)[..., None] * _c(255, 190, 110) * 0.6
    disk = smoothstep(0.03, 0.024, d)[..., None]
    sky = sky + glow
    sky = sky * (1 - disk) + _c(255, 246, 220) * disk

    sea = _gradient(h, w, [(horizon, _c(120, 80, 90)), (ledge, _c(50, 40, 60))])
    ripples = fbm(rng, size, cell=w / 8, octaves=4, stretch=(12.0, 0.2))
    column = np.exp(-((xx - sun_x) / (0.03 + 0.12 * (yy - horizon))) ** 2)
    sparkle = np.clip(ripples, 0, None) * column * (yy > horizon)
    sea = sea + (0.5 * sparkle)[..., None] * _c(255, 200, 130)
    img = np.where((yy < horizon)[..., None], sky, sea)

    ground, material = _ground(style, rng, size, ledge, "sand")
    # Backlit: the ledge is darker and warm, brighter where the sun grazes it.
    shade = (0.55 + 0.25 * np.exp(-((xx - sun_x) / 0.3) ** 2)
             * np.exp(-(yy - ledge) / 0.12))[..., None] * _c(255, 205, 170)
    img = _compose(img, ground, ledge, floor, back_blur=w / 400, ground_shade=shade)
    light = Light(azimuth=float(90 + (0.5 - sun_x) * 80), elevation=8.0,
                  softness=0.3, color=(255, 184, 120), intensity=0.9)
    return Plate(img, horizon, floor, light, material)


def _city(style, rng, size):
    w, h = size
    night = style.brightness < -0.2 or "night" in style.words or (
        "city_night" in style.words or "neon" in style.words)
    line = float(rng.uniform(0.52, 0.6))
    floor = float(min(0.92, line + rng.uniform(0.22, 0.28)))
    _, yy = _grid(w, h)

    if night:
        img = _gradient(h, w, [(0, _c(10, 14, 34)), (line, _c(40, 42, 70))])
    else:
        img = _sky(rng, size, _c(150, 180, 215), _c(225, 230, 235), line, 0.3)
    x = 0
    while x < w:
        bw = int(rng.uniform(0.06, 0.16) * w)
        top = int(rng.uniform(0.02, 0.35) * h)
        tone = rng.uniform(0.08, 0.2) if night else rng.uniform(0.45, 0.8)
        col = tone * (_c(200, 205, 220) if rng.random() < 0.5 else _c(220, 205, 190))
        cv2.rectangle(img, (x, top), (x + bw, int(line * h)), col.tolist(), -1)
        win = _c(255, 200, 120) if night else col * 0.7
        for wy in range(top + 6, int(line * h) - 4, 9):
            for wx in range(x + 4, x + bw - 4, 8):
                if rng.random() < (0.5 if night else 0.8):
                    cv2.rectangle(img, (wx, wy), (wx + 3, wy + 4),
                                  (win * rng.uniform(0.6, 1.1)).tolist(), -1)
        x += bw + int(rng.uniform(0, 0.02) * w)

    if night:
        bokeh = np.zeros_like(img)
        for _ in range(int(rng.integers(35, 60))):
            cx, cy = int(rng.uniform(0, w)), int(rng.uniform(0.15, line) * h)
            r = int(rng.uniform(0.015, 0.045) * w)
            col = [_c(255, 190, 110), _c(255, 230, 190), _c(140, 180, 255),
                   _c(255, 120, 150)][int(rng.integers(4))]
            gain = rng.uniform(0.25, 0.6)
            cv2.circle(bokeh, (cx, cy), r, (col * gain).tolist(), -1, cv2.LINE_AA)
            # A lens draws out-of-focus highlights with a slightly brighter rim.
            cv2.circle(bokeh, (cx, cy), r, (col * gain * 0.25).tolist(), 2,
                       cv2.LINE_AA)
        bokeh = cv2.GaussianBlur(bokeh, (0, 0), 1.2)
        img = blur(img, w / 110) + bokeh
        # Wet pavement mirrors the lights, smeared downwards.
        mirror = cv2.flip(bokeh, 0)
        shift = int(2 * line * h - h)
        reflect = np.zeros_like(bokeh)
        if 0 <= shift < h:
            reflect[shift:] = mirror[:h - shift]
        reflect = cv2.GaussianBlur(reflect, (0, 0), sigmaX=w / 200, sigmaY=w / 60)
        reflect *= np.exp(-np.clip(yy - line, 0, None) / 0.12)[..., None]

    ground, material = _ground(style, rng, size, line, "concrete", dark=night)
    if night:
        ground = ground * 0.55 + 0.6 * reflect
    img = _compose(img, ground, line, floor, back_blur=w / (300 if night else 90))
    light = Light(azimuth=60.0, elevation=30.0 if night else 50.0,
                  softness=0.85 if night else 0.65,
                  color=(200, 210, 255) if night else (250, 250, 250),
                  intensity=0.6 if night else 1.0)
    return Plate(img, line, floor, light, material)


def _foliage(style, rng, size, *, forest: bool):
    w, h = size
    line = float(rng.uniform(0.5, 0.6))
    floor = float(min(0.92, line + rng.uniform(0.22, 0.28)))

    top = _c(150, 190, 215) if not forest else _c(120, 150, 120)
    img = _gradient(h, w, [(0, top), (line, _c(190, 205, 180))])
    greens = [_c(60, 110, 50), _c(90, 140, 60), _c(40, 80, 45), _c(120, 160, 80),
              _c(70, 120, 90)]
    layers = 3 if forest else 2
    for layer in range(layers):
        leaves = np.zeros((h, w), np.float32)
        tone = np.zeros_like(img)
        for _ in range(int(260 * (1 + layer))):
            cx, cy = int(rng.uniform(0, w)), int(rng.uniform(-0.1, line + 0.05) * h)
            r = int(rng.uniform(0.012, 0.05) * w)
            col = greens[int(rng.integers(len(greens)))] * rng.uniform(0.7, 1.15)
            col = col * (0.55 if forest else 1.0) * (0.85 + 0.1 * layer)
            cv2.circle(leaves, (cx, cy), r, 1.0, -1)
            cv2.circle(tone, (cx, cy), r, col.tolist(), -1)
        if forest and layer == 0:
            for _ in range(int(rng.integers(5, 9))):
                tx = int(rng.uniform(0, w))
                tw = int(rng.uniform(0.015, 0.04) * w)
                cv2.rectangle(leaves, (tx, 0), (tx + tw, int(line * h)), 1.0, -1)
                cv2.rectangle(tone, (tx, 0), (tx + tw, int(line * h)),
                              (_c(60, 48, 40) * 0.8).tolist(), -1)
        cover = np.clip(leaves, 0, 1)[..., None] * (0.75 if layer == 0 else 0.9)
        img = img * (1 - cover) + tone * cover
        img = blur(img, w / (45 + 25 * layer))

    # Sun through leaves: soft bright discs.
    bokeh = np.zeros_like(img)
    for _ in range(int(rng.integers(20, 40))):
        cx, cy = int(rng.uniform(0, w)), int(rng.uniform(0, line) * h)
        r = int(rng.uniform(0.01, 0.03) * w)
        cv2.circle(bokeh, (cx, cy), r, (_c(255, 245, 200) * 0.35).tolist(), -1,
                   cv2.LINE_AA)
    img = img + cv2.GaussianBlur(bokeh, (0, 0), 1.5)

    ground, material = _ground(style, rng, size, line, "stone" if forest else "wood")
    spots = smoothstep(0.3, 1.2, fbm(rng, size, cell=w / 5, octaves=2))
    dapple = 0.94 + 0.12 * blur(spots, w / 150)
    shade = (dapple * (0.8 if forest else 1.0))[..., None]
    img = _compose(img, ground, line, floor, back_blur=w / 200, ground_shade=shade)
    light = Light(azimuth=70.0, elevation=55.0, softness=0.45 if forest else 0.35,
                  color=(255, 248, 225))
    return Plate(img, line, floor, light, material)


def _ridges(rng, size, img, line, colors, amp, haze):
    """Stacked mountain (or dune) silhouettes, hazier with distance."""
    w, h = size
    _, yy = _grid(w, h)
    n = len(colors)
    for i, col in enumerate(colors):
        base = line - (n - i) * amp * 0.55
        prof = fbm(rng, (w, 1), cell=w / (2 + i), octaves=5, persistence=0.55)[0]
        top = base - amp * (0.6 + 0.4 * prof) / (1 + 0.3 * i)
        mask = smoothstep(0.0, 0.004, yy - top[None, :])[..., None]
        mix = haze * (n - 1 - i) / max(n - 1, 1)
        air = img[int(line * h * 0.5), w // 2]
        tone = col * (1 - mix) + air * mix
        # Mist settles in the valleys: each ridge pales towards its foot.
        mist = smoothstep(0.0, amp * 1.6, yy - top[None, :])[..., None] * 0.45
        tone = tone * (1 - mist) + air * mist
        img = img * (1 - mask) + tone * mask
    return img


def _mountain(style, rng, size, *, desert: bool = False):
    w = size[0]
    line = float(rng.uniform(0.5, 0.6))
    floor = float(min(0.92, line + rng.uniform(0.22, 0.28)))
    if desert:
        img = _sky(rng, size, _c(90, 150, 210), _c(240, 225, 200), line, 0.15)
        cols = [_c(225, 175, 120), _c(210, 150, 95), _c(190, 130, 80)]
        img = _ridges(rng, size, img, line, cols, 0.1, 0.5)
        default = "sand"
    else:
        img = _sky(rng, size, _c(80, 130, 195), _c(215, 228, 238), line, 0.45)
        cols = [_c(150, 165, 185), _c(95, 110, 125), _c(60, 78, 70)]
        img = _ridges(rng, size, img, line, cols, 0.16, 0.6)
        default = "stone"
    ground, material = _ground(style, rng, size, line, default)
    img = _compose(img, ground, line, floor, back_blur=w / 350)
    light = Light(azimuth=45.0 if rng.random() < 0.5 else 135.0, elevation=50.0,
                  softness=0.25, color=(255, 250, 240))
    return Plate(img, line, floor, light, material)


def _pool(style, rng, size):
    w, h = size
    line = float(rng.uniform(0.5, 0.58))
    floor = float(min(0.92, line + rng.uniform(0.22, 0.28)))
    _, yy = _grid(w, h)
    water = _gradient(h, w, [(0, _c(40, 150, 175)), (line, _c(90, 205, 215))])
    caustic = np.zeros((h, w), np.float32)
    for k in range(2):
        n = fbm(rng, size, cell=w / 6, octaves=3, stretch=(1.6, 0.6))
        caustic += (1 - np.abs(np.sin(n * 3.0 + k))) ** 10
    water = water + 0.22 * caustic[..., None] * (0.4 + yy[..., None])
    ground, material = _ground(style, rng, size, line, "terrazzo")
    edge = np.exp(-((yy - line - 0.012) / 0.01) ** 2)[..., None]
    img = _compose(water, ground, line, floor, back_blur=w / 260)
    img = img * (1 - 0.5 * edge) + 0.5 * edge * 0.96
    light = Light(azimuth=60.0, elevation=65.0, softness=0.2, color=(255, 252, 240))
    return Plate(img, line, floor, light, material)


def render(style: Style, rng: np.random.Generator, size: tuple[int, int]) -> Plate:
    """The plate for ``style.place`` (a garden when the place is unknown)."""
    place = style.place
    if place == "beach":
        plate = _beach(style, rng, size)
    elif place == "sunset":
        plate = _sunset(style, rng, size)
    elif place == "city":
        plate = _city(style, rng, size)
    elif place == "forest":
        plate = _foliage(style, rng, size, forest=True)
    elif place == "mountain":
        plate = _mountain(style, rng, size)
    elif place == "desert":
        plate = _mountain(style, rng, size, desert=True)
    elif place == "pool":
        plate = _pool(style, rng, size)
    else:
        plate = _foliage(style, rng, size, forest=False)

    img = plate.image * vignette(size[0], size[1], 0.18)[..., None]
    if style.colors and style.place != "sunset":
        tint = np.asarray(style.colors[0], np.float32) / 255.0
        img = img * (0.85 + 0.15 * tint / max(float(tint.mean()), 1e-3))
    return Plate(np.clip(img, 0, 1).astype(np.float32), plate.horizon_y,
                 plate.floor_y, plate.light, plate.surface)
