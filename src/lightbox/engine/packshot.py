"""E-commerce packshots: the cut-out product, centred on a clean backdrop.

Layout follows what shop catalogues do: the product is trimmed, scaled to fill a
box inside standard margins, centred across, and stood on an implied floor a
little below centre when it has a flat base (floating products are centred).
Grounding is a soft contact shadow shaped from the product's own footprint, or a
faded reflection.
Everything is arithmetic on the pixels: same cutout and options, same bytes.
"""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np

from lightbox.engine.cutout import trim
from lightbox.engine.imageio import as_rgba
from lightbox.engine.types import RGB, EngineError, PackshotOptions

WHITE: RGB = (255, 255, 255)
SOFT_GREY: RGB = (242, 242, 242)
WARM_WHITE: RGB = (250, 247, 241)
COOL_GREY: RGB = (236, 239, 243)

# Variants a shop would actually want side by side: each differs in backdrop,
# grounding or framing, never only in noise. Variant 0 is the classic.
VARIANTS: tuple[dict, ...] = (
    {},
    {"shadow": "reflection"},
    {"background": SOFT_GREY},
    {"background": WARM_WHITE, "margin": 0.06},
    {"shadow": "none", "margin": 0.14},
    {"background": COOL_GREY, "shadow": "reflection", "margin": 0.12},
)

# How far below the base a reflection shows, as a fraction of product height.
REFLECTION_DEPTH = 0.22

# The contact shadow's soft part: its vertical sigma per pixel of product width,
# and how many sigmas below the base it is allowed to reach.
_AMBIENT_SIGMA = 0.025
_SHADOW_REACH = 3.0

# Where the free vertical space goes for products with a flat base: 0 = all below
# (top-aligned), 0.5 = centred, 1 = all above (standing on the bottom margin).
_FLOOR_BIAS = 0.7


def _guideline_overrides(text: str) -> dict:
    """Packshot settings asked for in free text; unknown words change nothing."""
    from lightbox.engine.words import named_color, tokens

    words = tokens(text)
    joined = " ".join(words)
    out: dict = {}

    if (
        any(w in words for w in ("transparent", "cutout", "transparency"))
        or "no background" in joined
        or "without background" in joined
    ):
        out["transparent"] = True

    negated = (
        any(f"{neg} shadow" in joined for neg in ("no", "without", "non"))
        or "shadowless" in words
        or "no shadows" in joined
    )
    if any(w in words for w in ("reflection", "reflective", "mirror", "mirrored")):
        out["shadow"] = "reflection"
    elif negated:
        out["shadow"] = "none"
    elif "shadow" in words or "shadows" in words:
        out["shadow"] = "contact"

    if any(w in words for w in ("tight", "close", "fill", "closer", "zoomed")):
        out["margin"] = 0.05
    elif any(w in words for w in ("loose", "airy", "spacious", "negative_space")):
        out["margin"] = 0.15
    if "amazon" in words:
        out.update(background=WHITE, margin=0.075)  # pure white, product ~85%

    # A colour counts only next to "background"/"backdrop" or after "on", so a
    # "red dress" in the guidelines does not turn the backdrop red.
    for i, word in enumerate(words):
        if word not in ("background", "backdrop", "bg", "backround"):
            continue
        for j in (i - 1, i - 2):
            if j >= 0 and (color := _backdrop_color(words, j, named_color)):
                out["background"] = color
                break
    for i, word in enumerate(words[:-1]):
        if word == "on" and (
            color := _backdrop_color(words, i + 1, named_color, forward=True)
        ):
            out["background"] = color
    return out


def _backdrop_color(words: list[str], j: int, named_color, *, forward=False):
    """The colour named at ``words[j]`` (with a shade word before or after it)."""
    word = words[j]
    if word in ("white", "pure"):
        return WHITE
    if word in ("grey", "gray"):
        shade = words[j - 1] if j > 0 else ""
        return {"dark": (90, 90, 90), "mid": (180, 180, 180)}.get(shade, SOFT_GREY)
    if word in ("off_white", "warm"):
        return WARM_WHITE
    if forward and j + 1 < len(words):
        pair = named_color(f"{word} {words[j + 1]}")
        if pair:
            return pair
    if j > 0 and (pair := named_color(f"{words[j - 1]} {word}")):
        return pair
    return named_color(word)


def packshot_options(
    *,
    variant: int,
    seed: int,
    guidelines: str = "",
    base: PackshotOptions = PackshotOptions(),
) -> PackshotOptions:
    """The options for image ``variant`` of a packshot order.

    Variant 0 is ``base`` itself; 1..5 change the grounding, backdrop tone or
    framing (see ``VARIANTS``). Beyond the table the seed picks a combination.
    Words in ``guidelines`` ("transparent", "no shadow", "reflection", "grey
    background", "on sage", "tight crop", "amazon") are applied last and win.
    """
    if variant < 0:
        raise EngineError(f"variant must be 0 or more, got {variant}")
    if variant < len(VARIANTS):
        change = dict(VARIANTS[variant])
    else:
        rng = np.random.default_rng([seed, variant, 0x9AC5])
        change = {
            "background": (WHITE, SOFT_GREY, WARM_WHITE, COOL_GREY)[rng.integers(4)],
            "shadow": ("contact", "reflection", "none")[rng.integers(3)],
            "margin": float(rng.choice([0.06, 0.1, 0.14])),
        }
    if base.background != WHITE and "background" in change:
        # A preset's brand colour stays; the variant shades it the way its tone
        # shades white (a touch darker, warmer or cooler), so variants still differ.
        tone = np.asarray(change["background"], np.float32) / 255.0
        shaded = np.round(np.asarray(base.background, np.float32) * tone)
        change["background"] = tuple(int(c) for c in shaded)
    change.update(_guideline_overrides(guidelines) if guidelines else {})
    return replace(base, **change)


def _has_flat_base(alpha: np.ndarray) -> bool:
    """True when the lowest rows of the silhouette span a good part of its width.

    A bottle, box or shoe stands on the floor; a ring or a round pendant, whose
    lowest rows are a narrow arc, is better centred.
    """
    height, width = alpha.shape
    rows = max(2, round(height * 0.015))
    footprint = (alpha[-rows:] > 128).any(axis=0)
    return footprint.sum() >= 0.3 * width


def _resize_premultiplied(rgba: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize straight RGBA to float32 premultiplied RGBA (colour 0..255)."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    pre = np.concatenate([rgba[..., :3] * alpha, rgba[..., 3:4]], axis=2)
    pre = pre.astype(np.float32)
    if size[0] <= rgba.shape[1]:
        out = cv2.resize(pre, size, interpolation=cv2.INTER_AREA)
    else:
        # Lanczos keeps upscaled edges sharp but overshoots beside them (a bright
        # or dark line along the outline). Clamp every pixel to the range of the
        # source pixels around it: sharpness stays, the ringing goes.
        out = cv2.resize(pre, size, interpolation=cv2.INTER_LANCZOS4)
        kernel = np.ones((3, 3), np.uint8)
        lo = cv2.resize(cv2.erode(pre, kernel), size, interpolation=cv2.INTER_LINEAR)
        hi = cv2.resize(cv2.dilate(pre, kernel), size, interpolation=cv2.INTER_LINEAR)
        out = cv2.min(cv2.max(out, lo), hi)

    # Keep colour <= alpha so every premultiplied pixel stays valid.
    np.minimum(out[..., :3], out[..., 3:4], out=out[..., :3])
    return out


def _footprint(alpha: np.ndarray, reach: float) -> np.ndarray:
    """Per column, how close the product comes to its base line (0..1).

    1 where the product touches the floor, falling off with the gap between the
    column's lowest opaque pixel and the base, over ``reach`` pixels. Rounded
    corners and overhangs therefore cast less shadow than the contact patch.
    """
    h = alpha.shape[0]
    solid = alpha > 96
    lowest = h - 1 - np.argmax(solid[::-1], axis=0)
    gap = np.where(solid.any(axis=0), (h - 1 - lowest).astype(np.float32), np.inf)
    return np.exp(-gap / max(reach, 1.0)).astype(np.float32)


def _blur1d(v: np.ndarray, sigma: float) -> np.ndarray:
    k = max(3, int(sigma * 3) * 2 + 1)
    return cv2.GaussianBlur(v.reshape(1, -1), (k, 1), sigma).ravel()


def render_packshot(
    cutout: np.ndarray,
    *,
    options: PackshotOptions = PackshotOptions(),
    variant: int = 0,
    seed: int = 0,
    guidelines: str = "",
) -> np.ndarray:
    """The product on its backdrop: RGB, or RGBA when ``options.transparent``.

    ``variant``/``guidelines`` adjust ``options`` through ``packshot_options``;
    variant 0 without guidelines renders ``options`` exactly. The product keeps
    its own pixels (only resampled); the backdrop is exactly the requested colour
    away from the product and its shadow.
    """
    opts = packshot_options(
        variant=variant, seed=seed, guidelines=guidelines, base=options
    )
    width, height = int(opts.size[0]), int(opts.size[1])
    if width < 16 or height < 16:
        raise EngineError(f"packshot size too small: {width}x{height}")
    if not 0.0 <= opts.margin < 0.5:
        raise EngineError(f"margin must be in [0, 0.5), got {opts.margin}")
    if opts.shadow not in ("none", "contact", "reflection"):
        raise EngineError(
            f"unknown shadow {opts.shadow!r}: use 'none', 'contact' or 'reflection'"
        )

    product = trim(as_rgba(cutout))
    ph, pw = product.shape[:2]
    flat = _has_flat_base(product[..., 3])

    margin = round(opts.margin * min(width, height))
    box_w, box_h = width - 2 * margin, height - 2 * margin

    # Fit inside the margin box together with what shows below the base: the
    # reflection, or the contact shadow's reach (both scale with the product).
    depth = REFLECTION_DEPTH if opts.shadow == "reflection" else 0.0
    scale = min(box_w / pw, box_h / (ph * (1.0 + depth)))
    if opts.shadow == "contact":
        scale = min(
            scale,
            (box_h - _SHADOW_REACH * 3.0 - 2.0)
            / (ph + _SHADOW_REACH * _AMBIENT_SIGMA * pw),
        )
    new_w, new_h = max(1, round(pw * scale)), max(1, round(ph * scale))
    layer = _resize_premultiplied(product, (new_w, new_h))

    x0 = margin + (box_w - new_w) // 2
    below = round(new_h * depth)
    if opts.shadow == "contact":
        below = math.ceil(_SHADOW_REACH * _ambient_sigma(new_w))
    total_h = new_h + below
    # A flat-based product stands a little below centre, on an implied floor:
    # tall ones end on the bottom margin, wide ones (a shoe) are not pushed to
    # the canvas edge with a void above them. Round ones float at the centre.
    free = box_h - total_h
    y0 = margin + round(free * (_FLOOR_BIAS if flat else 0.5))
    base_y = y0 + new_h

    # Only the area around the product and its shadow is computed in float; the
    # rest of the canvas is the flat backdrop, filled directly in uint8.
    reach = round(0.2 * new_w + 16)
    rx0, rx1 = max(0, x0 - reach), min(width, x0 + new_w + reach)
    ry0 = max(0, min(y0, base_y - reach))
    ry1 = min(height, base_y + reach + below)
    bg = np.array(opts.background, np.float32)
    channels = 4 if opts.transparent else 3
    work = np.empty((ry1 - ry0, rx1 - rx0, channels), np.float32)
    work[:] = 0.0 if opts.transparent else bg  # premultiplied when transparent

    if opts.shadow == "contact":
        alpha = np.ascontiguousarray(layer[..., 3])
        _apply_contact_shadow(
            work,
            alpha,
            x0 - rx0,
            base_y - ry0,
            flat,
            (margin - rx0, width - margin - rx0),
        )
    elif opts.shadow == "reflection":
        _apply_reflection(work, layer, x0 - rx0, base_y - ry0)
    _over(work, layer, x0 - rx0, y0 - ry0)

    if opts.transparent:
        out = np.zeros((height, width, 4), np.uint8)
        out[ry0:ry1, rx0:rx1] = _unpremultiply(work)
    else:
        out = np.empty((height, width, 3), np.uint8)
        out[:] = np.asarray(opts.background, np.uint8)
        out[ry0:ry1, rx0:rx1] = cv2.convertScaleAbs(work)
    return out


def _over(canvas: np.ndarray, layer: np.ndarray, x0: int, y0: int) -> None:
    """Composite premultiplied ``layer`` over ``canvas`` at (x0, y0), in place."""
    h, w = layer.shape[:2]
    region = canvas[y0 : y0 + h, x0 : x0 + w]
    inv = 1.0 - layer[..., 3] * np.float32(1.0 / 255.0)
    region *= inv[..., None]
    region += layer[..., : region.shape[2]]


def _darken(canvas: np.ndarray, shade: np.ndarray, x0: int, y0: int) -> None:
    """Multiply the backdrop by ``1 - shade`` (or add black with that alpha)."""
    h, w = shade.shape
    ya, yb = max(y0, 0), min(y0 + h, canvas.shape[0])
    xa, xb = max(x0, 0), min(x0 + w, canvas.shape[1])
    if ya >= yb or xa >= xb:
        return
    s = shade[ya - y0 : yb - y0, xa - x0 : xb - x0, None]
    region = canvas[ya:yb, xa:xb]
    if canvas.shape[2] == 4:
        # Black at opacity s over what is there, premultiplied.
        region[..., 3:4] = 255.0 * s + region[..., 3:4] * (1.0 - s)
        region[..., :3] *= 1.0 - s
    else:
        region *= 1.0 - s


def _ambient_sigma(width: float) -> float:
    return _AMBIENT_SIGMA * width + 3.0


def _apply_contact_shadow(
    canvas: np.ndarray,
    alpha: np.ndarray,
    x0: int,
    base_y: int,
    flat: bool,
    xlim: tuple[int, int],
) -> None:
    """An elliptical shadow under the base, shaped from the bottom silhouette.

    Two separable layers: a tight dark core where the base touches the floor and
    a wide faint ambient occlusion. It reaches ``_SHADOW_REACH`` ambient sigmas
    below the base (the layout reserves that) and fades out before the side
    margins ``xlim``, so everything that is not backdrop stays inside them.
    """
    # Limitation: this is the shadow of an object standing in front of the
    # camera under a top light; a flat-lay product (shot from above) would cast
    # a soft all-round drop shadow instead. A "flat lay" option selecting an
    # offset, blurred copy of the whole silhouette would cover that case.
    h, w = alpha.shape
    contact = _footprint(alpha, 0.006 * h + 1.0)
    near = _footprint(alpha, 0.12 * h)

    # Sizes follow the product's width, so a small ring and a wide sofa both get
    # a believable shadow; the floor is seen from slightly above, hence flat.
    core_sy = 0.007 * w + 2.0
    amb_sy = _ambient_sigma(w)
    pad = round(0.2 * w + 8)
    xs_w = w + 2 * pad
    core_x = np.zeros(xs_w, np.float32)
    core_x[pad : pad + w] = contact
    core_x = _blur1d(core_x, 0.012 * w + 1.5)
    amb_x = np.zeros(xs_w, np.float32)
    amb_x[pad : pad + w] = near
    amb_x = _blur1d(amb_x, 0.05 * w + 2.0)
    xs = np.arange(xs_w, dtype=np.float32) + (x0 - pad)
    ramp = 0.03 * w + 2.0
    window = np.clip((xs - xlim[0]) / ramp, 0, 1) * np.clip((xlim[1] - xs) / ramp, 0, 1)

    reach = _SHADOW_REACH * amb_sy
    span = math.ceil(reach)
    ys = np.arange(-span, span + 1, dtype=np.float32)
    # Below the base the shadow spreads; above it, it hides behind the product.
    core_y = np.exp(-0.5 * (ys / np.where(ys < 0, core_sy * 0.5, core_sy)) ** 2)
    amb_y = np.exp(-0.5 * (ys / np.where(ys < 0, amb_sy * 0.4, amb_sy)) ** 2)
    amb_y *= np.clip((reach - ys) / (0.5 * amb_sy), 0, 1)

    strength = (0.45, 0.3) if flat else (0.25, 0.18)
    core = strength[0] * np.outer(core_y, core_x * window)
    amb = strength[1] * np.outer(amb_y, amb_x * window)
    shade = 1.0 - (1.0 - core) * (1.0 - amb)
    _darken(canvas, shade.astype(np.float32), x0 - pad, base_y - span)


def _apply_reflection(
    canvas: np.ndarray, layer: np.ndarray, x0: int, base_y: int
) -> None:
    """The product mirrored below its base, fading out like a glossy floor."""
    h, w = layer.shape[:2]
    depth = round(h * REFLECTION_DEPTH)
    if depth < 2:
        return
    mirror = layer[::-1][:depth].copy()
    sigma = max(0.6, 0.002 * h)
    mirror = cv2.GaussianBlur(mirror, (0, 0), sigma)
    fade = np.linspace(1.0, 0.0, depth, dtype=np.float32) ** 1.6 * 0.3
    mirror *= fade[:, None, None]

    # A faint contact line keeps the product from looking pasted on the mirror.
    _apply_contact_shadow_line(canvas, layer[..., 3], x0, base_y)
    _over(canvas, mirror, x0, base_y)


def _apply_contact_shadow_line(
    canvas: np.ndarray, alpha: np.ndarray, x0: int, base_y: int
) -> None:
    """A thin dark line where the base meets a reflective floor."""
    h, w = alpha.shape
    foot = _footprint(alpha, 0.006 * h + 1.0)
    sy = 0.004 * w + 1.0
    span = round(4 * sy)
    ys = np.arange(-span, span + 1, dtype=np.float32)
    prof = np.exp(-0.5 * (ys / sy) ** 2)
    shade = 0.25 * np.outer(prof, _blur1d(foot, 0.01 * w + 1.0))
    _darken(canvas, shade.astype(np.float32), x0, base_y - span)


def _unpremultiply(canvas: np.ndarray) -> np.ndarray:
    a = canvas[..., 3:4]
    rgb = np.where(a > 0.5, canvas[..., :3] * 255.0 / np.maximum(a, 1e-3), 0.0)
    out = np.concatenate([rgb, a], axis=2)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
