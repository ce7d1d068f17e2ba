"""Drawing helpers for engine tests: products and the photographs they sit in.

Tests draw their own inputs, so every expected mask and colour is known exactly.
``draw_product`` returns an RGBA product on a transparent canvas (its alpha is the
ground-truth mask); ``photograph`` puts it on a backdrop the way a phone photo
would, which is what the cutout has to undo. Import them with
``from helpers import draw_product, photograph`` (pytest puts this folder on
``sys.path``, as ``tests/engine`` has no ``__init__.py``).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

KINDS = ("bottle", "shirt", "ring", "box", "mug", "shoe")

# The main body colour of each kind; tests compare cutout edges against these.
PRODUCT_COLORS: dict[str, tuple[int, int, int]] = {
    "bottle": (30, 90, 200),
    "shirt": (200, 40, 50),
    "ring": (212, 170, 60),
    "box": (176, 128, 80),
    "mug": (40, 150, 90),
    "shoe": (60, 60, 70),
}

# Backdrop base colours, chosen to be far from every product colour.
BACKDROP_COLORS: dict[str, tuple[int, int, int]] = {
    "noisy": (218, 206, 186),
    "gradient": (190, 200, 212),
}

_SUPERSAMPLE = 4


def _size(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(int(np.clip(c * factor, 0, 255)) for c in rgb)


def draw_product(
    size: int | tuple[int, int] = 512,
    seed: int = 0,
    kind: str = "bottle",
    *,
    color: tuple[int, int, int] | None = None,
) -> np.ndarray:
    """Draw an anti-aliased product on a transparent ``size`` canvas (RGBA uint8).

    The product fills roughly the middle 60% of the canvas; ``seed`` jitters its
    proportions and position a little so tests see more than one shape. The body
    carries a gentle horizontal shading (like a lit cylinder) but stays within
    about 15% of ``color``, so "is this the product's colour?" has a clear answer.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown product kind {kind!r}; use one of {KINDS}")
    width, height = _size(size)
    rng = np.random.default_rng([seed, 0x5EED_D4A7])
    base = color or PRODUCT_COLORS[kind]

    # Draw at 4x and downsample: PIL polygons are aliased, real photos are not.
    s = _SUPERSAMPLE
    big_w, big_h = width * s, height * s
    body = Image.new("L", (big_w, big_h), 0)
    detail = Image.new("RGBA", (big_w, big_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(body)
    ddraw = ImageDraw.Draw(detail)
    jitter = rng.uniform(-0.04, 0.04, size=4)
    cx = big_w * (0.5 + jitter[0])
    top = big_h * (0.2 + jitter[1])
    bottom = big_h * (0.8 + jitter[2])
    half = big_w * (0.16 + jitter[3])
    dark = _shade(base, 0.7)

    if kind == "bottle":
        neck = half * 0.38
        shoulder = top + (bottom - top) * 0.3
        draw.rounded_rectangle(
            (cx - half, shoulder, cx + half, bottom), radius=half * 0.3, fill=255
        )
        draw.polygon(
            [
                (cx - half * 0.98, shoulder + half * 0.3),
                (cx - neck, top + (bottom - top) * 0.12),
                (cx + neck, top + (bottom - top) * 0.12),
                (cx + half * 0.98, shoulder + half * 0.3),
            ],
            fill=255,
        )
        draw.rectangle(
            (cx - neck, top, cx + neck, top + (bottom - top) * 0.14), fill=255
        )
        # A dark cap and a pale label: real products are not one flat colour.
        ddraw.rectangle(
            (cx - neck * 1.1, top, cx + neck * 1.1, top + (bottom - top) * 0.08),
            fill=(*dark, 255),
        )
        label_top = shoulder + (bottom - shoulder) * 0.3
        ddraw.rectangle(
            (cx - half, label_top, cx + half, label_top + (bottom - shoulder) * 0.3),
            fill=(236, 232, 222, 255),
        )
    elif kind == "shirt":
        sleeve = half * 0.9
        yoke = top + (bottom - top) * 0.08
        draw.polygon(
            [
                (cx - half * 0.45, top),
                (cx - half - sleeve, yoke + half * 0.5),
                (cx - half - sleeve * 0.6, yoke + half * 1.1),
                (cx - half, yoke + half * 0.8),
                (cx - half, bottom),
                (cx + half, bottom),
                (cx + half, yoke + half * 0.8),
                (cx + half + sleeve * 0.6, yoke + half * 1.1),
                (cx + half + sleeve, yoke + half * 0.5),
                (cx + half * 0.45, top),
                (cx, top + half * 0.35),
            ],
            fill=255,
        )
    elif kind == "ring":
        r_out = min(half * 1.5, (bottom - top) * 0.4)
        cy = (top + bottom) / 2
        draw.ellipse((cx - r_out, cy - r_out, cx + r_out, cy + r_out), fill=255)
        r_in = r_out * 0.72
        # The hole is background: a cutout must keep it transparent.
        draw.ellipse((cx - r_in, cy - r_in, cx + r_in, cy + r_in), fill=0)
    elif kind == "box":
        draw.rectangle(
            (cx - half * 1.4, top + (bottom - top) * 0.25, cx + half * 1.4, bottom),
            fill=255,
        )
        ddraw.rectangle(
            (cx - half * 0.15, top + (bottom - top) * 0.25, cx + half * 0.15, bottom),
            fill=(*_shade(base, 0.8), 255),
        )
    elif kind == "mug":
        mug_top = top + (bottom - top) * 0.3
        draw.rounded_rectangle(
            (cx - half * 1.1, mug_top, cx + half * 0.9, bottom),
            radius=half * 0.15,
            fill=255,
        )
        hx, hy, hr = cx + half * 0.9, (mug_top + bottom) / 2, (bottom - mug_top) * 0.28
        draw.ellipse((hx - hr, hy - hr, hx + hr, hy + hr), fill=255)
        draw.ellipse(
            (hx - hr * 0.55, hy - hr * 0.55, hx + hr * 0.55, hy + hr * 0.55), fill=0
        )
        draw.rounded_rectangle(
            (cx - half * 1.1, mug_top, cx + half * 0.9, bottom),
            radius=half * 0.15,
            fill=255,
        )
    elif kind == "shoe":
        # A sneaker in profile, toe to the right: high heel collar, low toe box.
        tall = (bottom - top) * 0.55
        sole = bottom - tall * 0.16
        foot = [
            (cx - half * 2.0, sole),
            (cx - half * 2.05, sole - tall * 0.55),
            (cx - half * 1.85, bottom - tall),
            (cx - half * 1.35, bottom - tall * 0.88),
            (cx - half * 0.75, bottom - tall * 0.78),
            (cx - half * 0.45, bottom - tall * 0.98),
            (cx - half * 0.15, bottom - tall * 0.9),
            (cx + half * 0.9, bottom - tall * 0.5),
            (cx + half * 1.7, bottom - tall * 0.38),
            (cx + half * 2.05, bottom - tall * 0.22),
            (cx + half * 2.1, sole),
        ]
        draw.polygon(foot, fill=255)
        draw.ellipse(
            (
                cx + half * 1.5,
                bottom - tall * 0.42,
                cx + half * 2.15,
                sole + tall * 0.05,
            ),
            fill=255,
        )
        draw.rounded_rectangle(
            (cx - half * 2.05, sole, cx + half * 2.15, bottom),
            radius=tall * 0.06,
            fill=255,
        )
        ddraw.rounded_rectangle(
            (cx - half * 2.05, sole, cx + half * 2.15, bottom),
            radius=tall * 0.06,
            fill=(236, 234, 228, 255),
        )
        # A swoosh-like stripe and laces give the eye something to read.
        ddraw.polygon(
            [
                (cx - half * 1.3, sole - tall * 0.12),
                (cx + half * 1.2, sole - tall * 0.32),
                (cx - half * 0.6, sole - tall * 0.02),
            ],
            fill=(236, 234, 228, 255),
        )
        for i in range(4):
            lx = cx - half * 0.1 + i * half * 0.28
            ly = bottom - tall * (0.86 - i * 0.1)
            ddraw.line(
                (
                    lx - half * 0.12,
                    ly - tall * 0.04,
                    lx + half * 0.12,
                    ly + tall * 0.04,
                ),
                fill=(236, 234, 228, 255),
                width=max(1, round(tall * 0.03)),
            )

    # Shade across x like a lit cylinder: 0.88 at the rims, 1.08 in the middle-left.
    xs = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :, None]
    shading = 1.0 + 0.1 * np.cos(np.clip((xs + 0.25) * 1.4, -np.pi, np.pi)) - 0.02
    mask = np.asarray(body.resize((width, height), Image.Resampling.BOX), np.float32)
    det = np.asarray(detail.resize((width, height), Image.Resampling.BOX), np.float32)
    rgb = np.broadcast_to(np.array(base, np.float32), (height, width, 3)) * shading
    det_a = det[..., 3:4] / 255.0
    rgb = rgb * (1 - det_a) + det[..., :3] * det_a
    alpha = np.maximum(mask, det[..., 3])
    out = np.dstack([np.clip(rgb, 0, 255), alpha]).round().astype(np.uint8)
    out[..., :3][out[..., 3] == 0] = 0
    return out


def product_mask(rgba: np.ndarray, threshold: int = 128) -> np.ndarray:
    """The product's hard mask (bool HxW) from a drawn RGBA."""
    return rgba[..., 3] >= threshold


def backdrop(
    size: int | tuple[int, int], *, kind: str = "noisy", seed: int = 0
) -> np.ndarray:
    """A textured backdrop (RGB uint8): paper-like noise or a lit gradient."""
    width, height = _size(size)
    rng = np.random.default_rng([seed, 0xBAC4_D809])
    base = np.array(BACKDROP_COLORS[kind], np.float32)
    if kind == "noisy":
        # Low-frequency blotches plus fine grain, like a sheet of paper or a wall.
        coarse = rng.normal(0, 1, (max(height // 32, 2), max(width // 32, 2), 1))
        coarse = (
            np.asarray(
                Image.fromarray(
                    ((coarse * 30 + 128).clip(0, 255)).astype(np.uint8)[..., 0]
                ).resize((width, height), Image.Resampling.BICUBIC),
                np.float32,
            )[..., None]
            - 128
        )
        grain = rng.normal(0, 7, (height, width, 1)).astype(np.float32)
        img = base + coarse * 0.5 + grain
    elif kind == "gradient":
        ys = np.linspace(-1, 1, height, dtype=np.float32)[:, None, None]
        xs = np.linspace(-1, 1, width, dtype=np.float32)[None, :, None]
        img = base * (1.0 - 0.12 * ys - 0.05 * xs) + rng.normal(
            0, 2, (height, width, 1)
        )
    else:
        raise ValueError(f"unknown backdrop kind {kind!r}; use 'noisy' or 'gradient'")
    return np.clip(img, 0, 255).round().astype(np.uint8)


def photograph(
    rgba: np.ndarray,
    backdrop_kind: str = "noisy",
    seed: int = 0,
    *,
    shadow: bool = True,
) -> np.ndarray:
    """Put a drawn product on a backdrop like a quick phone photo (RGB uint8).

    Adds a soft cast shadow on the backdrop and a slight blur over everything, so
    the edge pixels mix product and backdrop as a real camera's do.
    """
    height, width = rgba.shape[:2]
    bg = backdrop((width, height), kind=backdrop_kind, seed=seed).astype(np.float32)
    alpha = rgba[..., 3].astype(np.float32) / 255.0
    if shadow:
        shifted = np.roll(
            np.roll(alpha, width // 60 + 1, axis=1), height // 80 + 1, axis=0
        )
        soft = (
            np.asarray(
                Image.fromarray((shifted * 255).astype(np.uint8)).filter(
                    ImageFilter.GaussianBlur(max(width / 120, 1.5))
                ),
                np.float32,
            )
            / 255.0
        )
        bg *= (1.0 - 0.25 * soft)[..., None]
    fg = rgba[..., :3].astype(np.float32)
    img = fg * alpha[..., None] + bg * (1 - alpha[..., None])
    img = np.asarray(
        Image.fromarray(np.clip(img, 0, 255).round().astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(0.6)
        )
    )
    return img


def ring_band(mask: np.ndarray, inner: int, outer: int) -> np.ndarray:
    """Pixels between ``inner`` and ``outer`` px inside the edge of ``mask`` (bool).

    Used to measure halos: the band just inside a cutout edge should carry the
    product's colour, not the old backdrop's.
    """
    import cv2

    m = mask.astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * inner + 1, 2 * inner + 1))
    k2 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * outer + 1, 2 * outer + 1))
    a = cv2.erode(m, k) if inner > 0 else m
    b = cv2.erode(m, k2)
    return (a > 0) & (b == 0)
