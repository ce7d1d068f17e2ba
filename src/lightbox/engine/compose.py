"""Photo shoots: a product cutout (on a figure where the industry calls for it)
composed into a scenery, with shadows, depth of field and a mood grade.

The product keeps its own colour: it is placed by resampling only, then touched
by a slight tint towards the scene's light, a gentle light gradient and a light
wrap in a thin edge band. There is no gradient-domain (Poisson) blending, which
would wash flat-coloured products into the background.

Layers are premultiplied while they are resampled and composited, so the colour
that was under the product's transparent pixels (often the old backdrop) cannot
bleed into its edge as a halo.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from lightbox.engine import fitting, shading
from lightbox.engine.fitting import Layer
from lightbox.engine.layout import (
    Plan,
    camera_matrix,
    crop_matrix,
    fit_scale,
    place_matrix,
    plan_shot,
    scenery_crop,
)
from lightbox.engine.types import EngineError, Figure, Light, Scenery, ShootSpec, Shot
from lightbox.engine.words import parse_style

_SEED_SHOOT = 0x5400_7A11  # keeps shoot choices independent of other seeded parts
_ALPHA_MIN = 8  # alpha below this is matting noise, not product


def render_shoot(spec: ShootSpec) -> Shot:
    """Compose one photo-shoot image; the same spec gives the same bytes."""
    product = check_rgba(spec.product, what="product")
    style = parse_style(spec.suggestions, spec.guidelines)
    rng = np.random.default_rng([spec.seed & 0xFFFFFFFF, spec.variant, _SEED_SHOOT])
    plan = plan_shot(industry=spec.industry, style=style, rng=rng, seed=spec.seed,
                     variant=spec.variant, long_side=spec.long_side)
    w, h = plan.size
    scenery = spec.scenery or _default_scenery(spec.seed, plan.size)
    light = _light_for(scenery.light, style.lighting)

    # Background: crop, roll, lens blur, then the mood grade.
    sh, sw = scenery.image.shape[:2]
    pan = float(rng.uniform(-0.6, 0.6))
    crop = scenery_crop((sw, sh), scenery.floor_y, out_size=plan.size,
                        zoom=plan.zoom, floor_at=plan.floor_at, pan=pan)
    floor_out = (scenery.floor_y * sh - crop[1]) / crop[3]
    horizon_out = (scenery.horizon_y * sh - crop[1]) / crop[3]
    base_frac = float(np.clip(max(plan.floor_at, floor_out), 0.3, 0.97))
    camera = camera_matrix(plan.size, roll=plan.roll, tilt=plan.tilt)
    bg = cv2.warpPerspective(
        check_rgb(scenery.image, what="scenery image"),
        camera @ np.vstack([crop_matrix(crop, plan.size), [0, 0, 1]]), plan.size,
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT,
    )
    bg = shading.depth_of_field(bg, focus_y=base_frac * h, sigma=plan.dof * max(w, h),
                                reach=0.55 * h)
    bg, fg_lut, vignette = _grade_background(bg, style, light)

    # Foreground layers, then shadows under them, then the composite.
    layers, on_floor, params = _layers(product, spec.figure, plan, base_frac, style)
    fg_p, fg_a, box = _composite_layers(layers, camera, bg, light, plan, fg_lut)
    shadow = None
    if on_floor and box is not None:
        shadow = _shadow_map(fg_a, box, plan.size, base_frac * h, light)
    image, fg = _merge(bg, fg_p, fg_a, box, shadow)

    params.update(plan.params())
    if spec.figure is not None and layers[0].role == "figure":
        params["figure_keypoints"] = _placed_keypoints(spec.figure, layers[0], camera)
    params.update({
        "seed": spec.seed, "variant": spec.variant, "crop": [round(v, 1) for v in crop],
        "floor_out": round(floor_out, 4), "horizon_out": round(horizon_out, 4),
        "base_y": round(base_frac, 4), "lighting": style.lighting or "scene",
        "light": {"azimuth": light.azimuth, "elevation": light.elevation,
                  "softness": light.softness},
        "mood": {"brightness": style.brightness, "contrast": style.contrast,
                 "warmth": style.warmth, "saturation": style.saturation},
        "vignette": round(vignette, 3), "shadow": shadow is not None,
        "framing": style.framing or "auto",
    })
    return Shot(image=image, background=bg, foreground=fg, params=params)


def check_rgba(image: np.ndarray, *, what: str) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise EngineError(f"{what} must be a uint8 array, got "
                          f"{getattr(image, 'dtype', type(image).__name__)}")
    if image.ndim != 3 or image.shape[2] != 4:
        raise EngineError(f"{what} must be RGBA (H, W, 4), got shape {image.shape}")
    if int(image[..., 3].max()) < _ALPHA_MIN:
        raise EngineError(f"{what} is fully transparent: nothing to place")
    return image


def check_rgb(image: np.ndarray, *, what: str) -> np.ndarray:
    if (not isinstance(image, np.ndarray) or image.dtype != np.uint8
            or image.ndim != 3 or image.shape[2] != 3):
        raise EngineError(f"{what} must be uint8 RGB (H, W, 3), got "
                          f"{getattr(image, 'shape', type(image).__name__)}")
    return image


def alpha_box(rgba: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the pixels that are product, with a pixel of margin."""
    solid = cv2.threshold(np.ascontiguousarray(rgba[..., 3]), _ALPHA_MIN - 1, 255,
                          cv2.THRESH_BINARY)[1]
    x, y, w, h = cv2.boundingRect(solid)
    return (max(x - 1, 0), max(y - 1, 0), min(x + w + 1, rgba.shape[1]),
            min(y + h + 1, rgba.shape[0]))


def premultiplied(rgba: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``rgba`` cropped to its :func:`alpha_box` and premultiplied, and that box."""
    x0, y0, x1, y1 = box = alpha_box(rgba)
    crop = np.ascontiguousarray(rgba[y0:y1, x0:x1])
    a = np.ascontiguousarray(crop[..., 3])
    factor = cv2.merge([a, a, a, np.full_like(a, 255)])
    return cv2.multiply(crop, factor, scale=1 / 255.0), box


def _default_scenery(seed: int, size: tuple[int, int]) -> Scenery:
    from lightbox.engine.scenery import render_scenery

    return render_scenery("studio", seed, size=size)


def _light_for(light: Light, lighting: str) -> Light:
    """The scene's key light, bent by the lighting words of the suggestions."""
    changes: dict = {}
    if lighting in ("soft", "overcast", "window"):
        changes = {"softness": max(light.softness, 0.85)}
    elif lighting in ("hard", "spotlight"):
        changes = {"softness": min(light.softness, 0.15), "intensity": 1.15}
    elif lighting in ("backlight", "rim"):
        changes = {"azimuth": 90.0, "elevation": 25.0}
    elif lighting == "side":
        side = 0.0 if math.cos(math.radians(light.azimuth)) >= 0 else 180.0
        changes = {"azimuth": side + 12.0, "elevation": 22.0,
                   "softness": min(light.softness, 0.4)}
    elif lighting == "golden":
        changes = {"elevation": min(light.elevation, 20.0), "color": (255, 214, 160)}
    return Light(**{**light.__dict__, **changes})


def _grade_background(
    bg: np.ndarray, style, light: Light,
) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Mood grade of the plate; returns it, the milder LUT for the foreground and
    the vignette strength. The product gets a third of the grade so it keeps its
    colour while still sitting in the same light."""
    golden = 0.35 if style.lighting == "golden" else 0.0
    lut = shading.tone_lut(style, warmth=golden)
    if lut is not None:
        bg = cv2.LUT(bg, lut)
    bg = shading.saturate(bg, 0.35 * style.saturation)
    strength = 0.1 + max(-style.brightness, 0.0) * 0.45
    if style.lighting in ("spotlight", "backlight"):
        strength += 0.15
    bg = shading.vignette(bg, strength=strength)
    return bg, shading.tone_lut(style, strength=0.3, warmth=golden), strength


def _layers(
    product: np.ndarray, figure: Figure | None, plan: Plan, base_frac: float, style,
) -> tuple[list[Layer], bool, dict]:
    """Sources and placements for the industry; also whether they stand on the
    floor (and so cast floor shadows) and what was decided."""
    w, h = plan.size
    base_y = base_frac * h
    prod, pbox = premultiplied(product)
    if figure is None:
        scale = fit_scale(pbox, max_w=plan.width * w, max_h=plan.height * h)
        half = (pbox[2] - pbox[0]) * scale / 2
        cx = float(np.clip(plan.center_x * w, half + 0.04 * w, w - half - 0.04 * w))
        m = place_matrix(_local(pbox), scale=scale, anchor=(0.5, 1.0), at=(cx, base_y))
        layer = Layer(prod, _as3(m), "product")
        return [layer], True, {"placement": "floor", "product_scale": round(scale, 4)}

    fig = check_rgba(figure.rgba, what="figure")
    fsrc, fbox = premultiplied(fig)
    keys = {k: (x - fbox[0], y - fbox[1]) for k, (x, y) in figure.keypoints.items()}
    if plan.profile == "fashion":
        return fitting.dress(prod, pbox, fsrc, fbox, keys, figure.kind, plan, base_y)
    if plan.profile == "closeup" and "neck" in keys and plan.industry != "cosmetics":
        return fitting.necklace(prod, pbox, fsrc, fbox, keys, plan)
    return fitting.beside(prod, pbox, fsrc, fbox, keys, plan, base_y)


def _placed_keypoints(figure: Figure, layer: Layer, camera) -> dict:
    """The figure's keypoints in the output image (after placement and camera)."""
    fbox = alpha_box(figure.rgba)
    m = camera @ layer.matrix
    out = {}
    for name, (x, y) in figure.keypoints.items():
        v = m @ np.array([x - fbox[0], y - fbox[1], 1.0])
        out[name] = [round(float(v[0] / v[2]), 1), round(float(v[1] / v[2]), 1)]
    return out


def _local(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """A crop's own box, origin at its corner."""
    return 0, 0, box[2] - box[0], box[3] - box[1]


def _as3(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0, 0, 1]])


def _warp_box(
    matrix: np.ndarray, src_shape, size, *, pad: int = 2,
) -> tuple[int, int, int, int] | None:
    sh, sw = src_shape[:2]
    corners = np.array([[0, 0, 1], [sw, 0, 1], [0, sh, 1], [sw, sh, 1]], np.float64)
    pts = corners @ matrix.T
    pts = pts[:, :2] / pts[:, 2:3]
    x0 = max(math.floor(pts[:, 0].min()) - pad, 0)
    y0 = max(math.floor(pts[:, 1].min()) - pad, 0)
    x1 = min(math.ceil(pts[:, 0].max()) + pad, size[0])
    y1 = min(math.ceil(pts[:, 1].max()) + pad, size[1])
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _resample(layer: Layer, camera: np.ndarray, box, size) -> np.ndarray:
    """The layer warped into the output box (premultiplied uint8 RGBA).

    Large reductions go through an area-averaging resize first: a single bilinear
    warp would alias fine product detail.
    """
    matrix = camera @ layer.matrix
    src = layer.src
    scale = math.sqrt(abs(np.linalg.det(matrix[:2, :2])))
    if scale < 0.7:
        sh, sw = src.shape[:2]
        nw = max(round(sw * scale * 1.2), 1)
        nh = max(round(sh * scale * 1.2), 1)
        src = cv2.resize(src, (nw, nh), interpolation=cv2.INTER_AREA)
        pre = np.diag([sw / nw, sh / nh, 1.0])
        matrix = matrix @ pre
    shift = np.array([[1, 0, -box[0]], [0, 1, -box[1]], [0, 0, 1]], np.float64)
    return cv2.warpPerspective(
        src, shift @ matrix, (box[2] - box[0], box[3] - box[1]),
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    )


def _composite_layers(layers, camera, bg, light: Light, plan: Plan, lut):
    """Premultiplied uint8 RGB and alpha of all layers over their union box.

    Every step is a uint8 OpenCV call on the layer's own box: 8-bit premultiplied
    colour is plenty for display, and it keeps a figure-sized layer fast.
    """
    size = plan.size
    # A layer that drops a shadow needs room around it for the shadow's blur.
    reach = int(0.03 * max(size))
    boxes = [_warp_box(camera @ lay.matrix, lay.src.shape, size,
                       pad=reach if lay.drop_shadow else 2) for lay in layers]
    live = [b for b in boxes if b is not None]
    if not live:
        return None, None, None
    box = (min(b[0] for b in live), min(b[1] for b in live),
           max(b[2] for b in live), max(b[3] for b in live))
    bw, bh = box[2] - box[0], box[3] - box[1]
    acc_p = np.zeros((bh, bw, 3), np.uint8)
    acc_a = np.zeros((bh, bw), np.uint8)
    gain = _gain(light, box, bh, exposure=_exposure(bg, box),
                 side=plan.lighting == "side")

    for layer, lbox in zip(layers, boxes):
        if lbox is None:
            continue
        warped = _resample(layer, camera, lbox, size)
        if lut is not None:
            warped = _grade_premultiplied(warped, lut)
        p = np.ascontiguousarray(warped[..., :3])
        a = np.ascontiguousarray(warped[..., 3])
        a3 = cv2.merge([a, a, a])
        r = (slice(lbox[1] - box[1], lbox[3] - box[1]),
             slice(lbox[0] - box[0], lbox[2] - box[0]))
        if layer.role == "garment":
            p = fitting.shade_like(p, a, acc_p[r], acc_a[r])
        if layer.shade:
            p = cv2.min(cv2.multiply(p, gain[r], scale=1 / 128.0), a3)
        if layer.drop_shadow:
            acc_p[r] = _drop_shadow(a, acc_p[r], acc_a[r], light, plan)
        inv = 255 - a
        acc_p[r] = cv2.add(p, cv2.multiply(acc_p[r], cv2.merge([inv, inv, inv]),
                                           scale=1 / 255.0))
        acc_a[r] = cv2.add(a, cv2.multiply(acc_a[r], inv, scale=1 / 255.0))

    behind = bg[box[1]:box[3], box[0]:box[2]]
    radius = max(1.2, 0.003 * max(size))
    amount = 0.25 if light.elevation > 30 else 0.5  # low / back light wraps more
    acc_p = shading.light_wrap(acc_p, acc_a, behind, radius=radius, amount=amount)
    return acc_p, acc_a, box


def _grade_premultiplied(rgba: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Apply a colour LUT to premultiplied pixels (through straight colour)."""
    a = rgba[..., 3]
    a3 = cv2.merge([a, a, a])
    straight = cv2.divide(rgba[..., :3], a3, scale=255.0)
    graded = cv2.multiply(cv2.LUT(straight, lut), a3, scale=1 / 255.0)
    out = cv2.cvtColor(graded, cv2.COLOR_RGB2RGBA)
    out[..., 3] = a
    return out


def _exposure(bg: np.ndarray, box) -> float:
    """Dim the product in a dark scene (never brighten it): a product lit like a
    bright studio looks pasted onto a dark, moody plate."""
    region = bg[box[1]:box[3], box[0]:box[2]]
    lum = float(cv2.cvtColor(shading.shrink(region, 4), cv2.COLOR_RGB2GRAY).mean())
    return float(np.clip((lum / 120.0) ** 0.35, 0.72, 1.0))


def _gain(light: Light, box, rows: int, *, exposure: float = 1.0,
          side: bool = False) -> np.ndarray:
    """Per-pixel gain (uint8, 128 = 1.0) for the union box: a small pull towards
    the key light's colour, a few percent brighter on the side the light comes
    from (more for low, hard light, most for side light), and the exposure."""
    c = np.asarray(light.color, np.float32)
    tint = exposure * (1.0 + 0.12 * (c / max(float(c.mean()), 1.0) - 1.0))
    amp = 0.05 + 0.08 * (1.0 - light.softness) * (light.elevation < 40)
    if side:
        amp = 0.22
    xs = (np.arange(box[0], box[2], dtype=np.float32) - (box[0] + box[2]) / 2)
    xs /= max((box[2] - box[0]) / 2, 1.0)
    g = 1.0 - amp * math.cos(math.radians(light.azimuth)) * xs
    row = np.clip(g[:, None] * tint[None, :] * 128.0 + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.broadcast_to(row[None], (rows,) + row.shape))


def _drop_shadow(a, under_p, under_a, light: Light, plan: Plan) -> np.ndarray:
    """``under_p`` darkened where a worn/held product's silhouette, offset away
    from the light, falls on it; worked at half size."""
    dist = 0.008 * max(plan.size)
    h, w = a.shape
    small = shading.shrink(a, 2)
    sh, sw = small.shape
    shift = np.float32([[1, 0, dist / 2 * math.cos(math.radians(light.azimuth))],
                        [0, 1, dist / 2 * math.sin(math.radians(light.azimuth))]])
    moved = cv2.GaussianBlur(cv2.warpAffine(small, shift, (sw, sh)), (0, 0),
                             max(dist * 0.4, 0.5))
    moved = cv2.resize(moved, (w, h), interpolation=cv2.INTER_LINEAR)
    keep = 255 - cv2.multiply(moved, under_a, scale=0.45 / 255.0)
    return cv2.multiply(under_p, cv2.merge([keep, keep, keep]), scale=1 / 255.0)


def _shadow_map(fg_a, box, size, base_y: float, light: Light) -> np.ndarray:
    """Floor-shadow opacity over the whole frame (uint8), from the layers'
    silhouette; computed at quarter resolution."""
    w, h = size
    q = 4
    sw, sh = (w + q - 1) // q, (h + q - 1) // q
    caster = np.zeros((sh, sw), np.float32)
    bx0, by0 = box[0] // q, box[1] // q
    small = shading.shrink(fg_a, q).astype(np.float32) / 255.0
    caster[by0:by0 + small.shape[0], bx0:bx0 + small.shape[1]] = small[
        : sh - by0, : sw - bx0]
    rows = np.flatnonzero(caster.max(axis=1) > 0.3)
    if rows.size == 0:
        return np.zeros((h, w), np.uint8)
    base = min(float(rows[-1]) + 0.5, base_y / q + 1.0)
    height = float(rows[-1] - rows[0] + 1)
    opacity = shading.floor_shadow(caster, base_y=base, light=light,
                                   object_height=height)
    opacity = np.clip(opacity * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.resize(opacity, (w, h), interpolation=cv2.INTER_LINEAR)


def _merge(bg, fg_p, fg_a, box, shadow):
    """The final photograph and the foreground layer (straight RGBA): the layers
    over their floor shadow, over the background."""
    h, w = bg.shape[:2]
    if shadow is not None:
        # The shadow is the floor's own colour, darker: a multiply, kept as a layer.
        alpha = shadow
        premult = cv2.multiply(cv2.multiply(bg, (0.25, 0.25, 0.28, 0)),
                               cv2.merge([shadow] * 3), scale=1 / 255.0)
    else:
        alpha = np.zeros((h, w), np.uint8)
        premult = np.zeros((h, w, 3), np.uint8)
    if box is not None:
        r = (slice(box[1], box[3]), slice(box[0], box[2]))
        inv = 255 - fg_a
        premult[r] = cv2.add(fg_p, cv2.multiply(premult[r], cv2.merge([inv] * 3),
                                                scale=1 / 255.0))
        alpha[r] = cv2.add(fg_a, cv2.multiply(alpha[r], inv, scale=1 / 255.0))

    inv = 255 - alpha
    image = cv2.add(premult, cv2.multiply(bg, cv2.merge([inv] * 3), scale=1 / 255.0))
    fg = cv2.cvtColor(cv2.divide(premult, cv2.merge([alpha] * 3), scale=255.0),
                      cv2.COLOR_RGB2RGBA)
    fg[..., 3] = alpha
    return image, fg
