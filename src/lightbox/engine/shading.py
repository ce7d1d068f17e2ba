"""Light and lens for the compositor: shadows, depth of field, tone, light wrap.

Blurs run on reduced-resolution copies (the eye cannot tell a blurred quarter-size
image from a blurred full-size one) and full-frame blends run in uint8 through
OpenCV, which keeps a 1536-pixel shoot well inside its time budget.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from lightbox.engine.types import Light, Style

# How much a floor seen at a shooting angle shortens distances towards the camera,
# and how far sideways a shadow may reach per unit of object height.
FLOOR_FORESHORTEN = 0.35
SHADOW_REACH = 0.8
MAX_SHADOW_LENGTH = 2.2


def shrink(image: np.ndarray, factor: int) -> np.ndarray:
    """Reduce by a power of two with repeated 2x2 averaging (bilinear halving):
    as smooth as area resampling for blurs, and several times faster."""
    out = image
    while factor >= 2:
        h, w = out.shape[:2]
        out = cv2.resize(out, (max(w // 2, 1), max(h // 2, 1)),
                         interpolation=cv2.INTER_LINEAR)
        factor //= 2
    return out


def shadow_matrix(light: Light, base_y: float) -> np.ndarray:
    """Affine that lays an upright silhouette standing on ``base_y`` onto the floor.

    A point ``h`` pixels above the base moves ``h * cot(elevation)`` along the
    light's travel direction: sideways in full, towards or away from the camera
    foreshortened. Low suns make long shadows, overhead light short ones.
    """
    az = math.radians(light.azimuth)
    el = math.radians(min(max(light.elevation, 8.0), 89.0))
    length = min(1.0 / math.tan(el), MAX_SHADOW_LENGTH)
    dx = length * math.cos(az) * SHADOW_REACH
    dy = length * math.sin(az) * FLOOR_FORESHORTEN
    if abs(dy) < 0.05:
        # A light from straight beside still leaves a shadow with some depth.
        dy = 0.05 if dy >= 0 else -0.05
    return np.array(
        [[1.0, -dx, dx * base_y], [0.0, -dy, base_y * (1.0 + dy)]], np.float64
    )


def floor_shadow(
    caster: np.ndarray, *, base_y: float, light: Light, object_height: float,
) -> np.ndarray:
    """Shadow opacity (float32, 0..1, caster's size) for a caster alpha map.

    Sum of a tight contact shadow where the object meets the floor and a cast
    shadow that fades and softens with the height of the part casting it.
    """
    h, w = caster.shape
    height = max(object_height, 4.0)
    rows = np.arange(h, dtype=np.float32)[:, None]
    up = np.clip((base_y - rows) / height, 0.0, 1.0)

    # Cast: fade with height before projecting, so the top casts the weakest part.
    faded = caster * (1.0 - 0.7 * up)
    cast = cv2.warpAffine(
        faded, shadow_matrix(light, base_y), (w, h), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    )
    soft = float(np.clip(light.softness, 0.0, 1.0))
    strength = (0.6 - 0.3 * soft) * float(np.clip(light.intensity, 0.3, 1.5))
    # Sharp where the shadow leaves the object, softer as it travels away.
    near = cv2.GaussianBlur(cast, (0, 0), 1.0 + height * 0.01)
    far = cv2.GaussianBlur(cast, (0, 0), 1.0 + height * (0.02 + 0.06 * soft))
    dist = np.clip(np.abs(rows - base_y) / (0.12 * height), 0.0, 1.0)
    cast = (near * (1.0 - dist) + far * dist) * strength

    # Contact: the bottom few percent of the silhouette, squashed onto the floor,
    # a little wider than the base and reaching slightly towards the camera.
    band = caster * (up < 0.05)
    xs = np.flatnonzero(band.max(axis=0) > 0.2)
    cx = float(xs.mean()) if xs.size else w / 2.0
    drop = 0.012 * height
    squash = np.array([[1.06, 0, -0.06 * cx], [0, 0.35, base_y * 0.65 + drop]],
                      np.float64)
    contact = cv2.warpAffine(band, squash, (w, h), flags=cv2.INTER_LINEAR)
    contact = cv2.GaussianBlur(contact, (0, 0), 0.8 + height * 0.012)
    contact = np.clip(contact * 2.0, 0.0, 1.0) * 0.7

    return np.clip(np.maximum(cast, contact) + 0.35 * np.minimum(cast, contact),
                   0.0, 0.85)


def depth_of_field(
    image: np.ndarray, *, focus_y: float, sigma: float, reach: float,
) -> np.ndarray:
    """Blur rows more the farther they are from the in-focus row ``focus_y``.

    ``sigma`` is the strongest blur (full-resolution pixels), reached ``reach``
    pixels from the focus row. Two blur levels are blended per band of rows.
    """
    if sigma < 0.8:
        return image.copy()
    h, w = image.shape[:2]
    factor = 4 if sigma >= 6 else 2
    small = shrink(image, factor)
    s = sigma / factor
    mid = cv2.resize(cv2.GaussianBlur(small, (0, 0), max(s * 0.4, 0.5)), (w, h),
                     interpolation=cv2.INTER_LINEAR)
    far = cv2.resize(cv2.GaussianBlur(small, (0, 0), s), (w, h),
                     interpolation=cv2.INTER_LINEAR)

    rows = np.arange(h, dtype=np.float32)
    weight = np.clip(np.abs(rows - focus_y) / max(reach, 1.0), 0.0, 1.0) ** 1.2
    levels = np.round(weight * 24).astype(np.int32)
    out = np.empty_like(image)
    # Contiguous runs of rows with one blur level blend in one OpenCV call.
    edges = np.flatnonzero(np.diff(levels)) + 1
    for start, stop in zip(np.r_[0, edges], np.r_[edges, h]):
        t = levels[start] / 24.0
        if t <= 0.5:
            a, b, k = image[start:stop], mid[start:stop], t / 0.5
        else:
            a, b, k = mid[start:stop], far[start:stop], (t - 0.5) / 0.5
        cv2.addWeighted(a, 1.0 - k, b, k, 0.0, dst=out[start:stop])
    return out


def tone_lut(
    style: Style, *, strength: float = 1.0, warmth: float = 0.0,
) -> np.ndarray | None:
    """A (256, 1, 3) uint8 LUT for the mood words, or None when they are neutral.

    Bright/airy lifts the blacks and opens the mid-tones; dark/moody lowers them
    and steepens the curve; contrast is an S-curve; warmth shifts red against blue.
    """
    b = style.brightness * strength
    c = style.contrast * strength
    warm = (style.warmth + warmth) * strength
    if abs(b) < 1e-3 and abs(c) < 1e-3 and abs(warm) < 1e-3:
        return None
    x = np.linspace(0.0, 1.0, 256)

    y = x ** (2.0 ** (-0.55 * b))
    if b > 0:
        y = y * (1 - 0.1 * b) + 0.1 * b
    else:
        y = y * (1 + 0.22 * b)
    smooth = y * y * (3 - 2 * y)
    y = y + (0.6 * c) * (smooth - y)

    chans = [y * (1 + 0.07 * warm), y * (1 + 0.01 * warm), y * (1 - 0.08 * warm)]
    lut = np.stack([np.clip(ch, 0, 1) * 255.0 for ch in chans], axis=-1)
    return np.round(lut).astype(np.uint8).reshape(256, 1, 3)


def vignette(image: np.ndarray, *, strength: float) -> np.ndarray:
    """Darken towards the corners, as a lens does; ``strength`` 0..1 at the corners."""
    if strength <= 0.005:
        return image
    h, w = image.shape[:2]
    sh, sw = max(h // 8, 2), max(w // 8, 2)
    yy = np.linspace(-1, 1, sh, dtype=np.float32)[:, None]
    xx = np.linspace(-1, 1, sw, dtype=np.float32)[None, :]
    r2 = (xx * xx + yy * yy) / 2.0
    mask = (1.0 - strength * np.clip(r2, 0, 1) ** 1.4) * 255.0
    mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
    mask3 = cv2.merge([mask.astype(np.uint8)] * 3)
    return cv2.multiply(image, mask3, scale=1 / 255.0)


def saturate(image: np.ndarray, amount: float) -> np.ndarray:
    """Scale colourfulness around each pixel's grey by ``1 + amount``."""
    if abs(amount) < 1e-3:
        return image
    gray = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    return cv2.addWeighted(image, 1.0 + amount, gray, -amount, 0.0)


def light_wrap(
    premult: np.ndarray, alpha: np.ndarray, behind: np.ndarray, *, radius: float,
    amount: float,
) -> np.ndarray:
    """Let the blurred scene behind spill over the product's outer edge.

    ``premult`` is uint8 premultiplied RGB, ``alpha`` uint8, ``behind`` the
    background under them. Only a band of about ``radius`` pixels inside the
    silhouette changes; deeper pixels keep their colour exactly. The band and the
    spill are worked out at half size.
    """
    h, w = alpha.shape
    small = shrink(alpha, 2).astype(np.float32) * (1 / 255.0)
    inner = cv2.GaussianBlur(small, (0, 0), max(radius / 2, 0.5))
    band = np.minimum(np.clip(small - inner, 0.0, 1.0) * (2.0 * amount), 0.8)
    wrap = cv2.resize(band, (w, h), interpolation=cv2.INTER_LINEAR)
    spill = shrink(behind, 2)
    spill = cv2.resize(cv2.GaussianBlur(spill, (0, 0), max(radius * 0.75, 0.5)),
                       (w, h), interpolation=cv2.INTER_LINEAR)
    spill = cv2.multiply(spill, cv2.merge([alpha] * 3), scale=1 / 255.0)
    return cv2.blendLinear(premult, spill, 1.0 - wrap, wrap)
