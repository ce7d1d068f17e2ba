"""Products on figures: a garment dressed on the torso, a necklace at the neck, a
product held in the hand or standing beside.

Each arrangement returns the layers (bottom first) in the level output frame, with
whether they stand on the floor and the numbers it chose. Keypoints arrive in the
figure's cropped source coordinates (see :func:`compose.premultiplied`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from lightbox.engine.layout import Plan, fit_scale, place_matrix
from lightbox.engine.shading import shrink

Point = tuple[float, float]


@dataclass
class Layer:
    """A premultiplied RGBA source and where it goes (3x3, level output frame)."""

    src: np.ndarray  # uint8 RGBA, premultiplied
    matrix: np.ndarray  # 3x3 source -> level output
    role: str  # "figure", "garment", "product", "arms"
    shade: bool = True  # gets the light tint and gradient
    drop_shadow: bool = False  # casts a small shadow on the layers below it


def _apply(m: np.ndarray, p: Point) -> Point:
    v = m @ np.array([p[0], p[1], 1.0])
    return float(v[0] / v[2]), float(v[1] / v[2])


def _place_figure(fsrc, plan: Plan, *, height: float, cx: float, base_y: float):
    fh, fw = fsrc.shape[:2]
    scale = fit_scale((0, 0, fw, fh), max_w=0.8 * plan.size[0], max_h=height)
    m = place_matrix((0, 0, fw, fh), scale=scale, anchor=(0.5, 1.0), at=(cx, base_y))
    m3 = np.vstack([m, [0, 0, 1]])
    return Layer(fsrc, m3, "figure"), m3, scale


def beside(prod, pbox, fsrc, fbox, keys, plan: Plan, base_y: float):
    """A figure with the product in its hand, or standing beside a handless form."""
    w, h = plan.size
    fig_h = (base_y / h - 0.07) * h
    fx = w * (0.42 if plan.center_x <= 0.5 else 0.58)
    fig, fm, fscale = _place_figure(fsrc, plan, height=fig_h, cx=fx, base_y=base_y)
    height_px = fsrc.shape[0] * fscale
    pw, ph = pbox[2] - pbox[0], pbox[3] - pbox[1]

    hands = [k for k in ("left_hand", "right_hand") if k in keys]
    if hands:
        # The hand nearer the middle of the frame holds it, so it faces the camera.
        pts = {k: _apply(fm, keys[k]) for k in hands}
        hand = min(hands, key=lambda k: abs(pts[k][0] - w / 2))
        scale = fit_scale((0, 0, pw, ph), max_w=0.22 * w, max_h=0.17 * height_px)
        m = place_matrix((0, 0, pw, ph), scale=scale, anchor=(0.5, 0.3),
                         at=pts[hand])
        product = Layer(prod, np.vstack([m, [0, 0, 1]]), "product", drop_shadow=True)
        return [fig, product], True, {"placement": f"held:{hand}",
                                      "product_scale": round(scale, 4)}

    scale = fit_scale((0, 0, pw, ph), max_w=0.3 * w, max_h=0.4 * height_px)
    side = 1.0 if fx < w / 2 else -1.0
    half_fig = fsrc.shape[1] * fscale / 2
    px = fx + side * (half_fig + pw * scale / 2 + 0.02 * w)
    px = float(np.clip(px, pw * scale / 2 + 0.03 * w, w - pw * scale / 2 - 0.03 * w))
    m = place_matrix((0, 0, pw, ph), scale=scale, anchor=(0.5, 1.0),
                     at=(px, min(base_y + 0.02 * h, 0.98 * h)))
    product = Layer(prod, np.vstack([m, [0, 0, 1]]), "product")
    return [fig, product], True, {"placement": "beside",
                                  "product_scale": round(scale, 4)}


def necklace(prod, pbox, fsrc, fbox, keys, plan: Plan):
    """Close-up on the neck and shoulders with the product resting below the neck."""
    w, h = plan.size
    ls, rs, neck = keys.get("left_shoulder"), keys.get("right_shoulder"), keys["neck"]
    if ls is None or rs is None:
        span = fsrc.shape[1] * 0.45
    else:
        span = max(abs(ls[0] - rs[0]), 1.0)
    scale = 0.62 * w / span
    at = (0.5 * w, 0.3 * h)
    fm = np.array([[scale, 0, at[0] - neck[0] * scale],
                   [0, scale, at[1] - neck[1] * scale], [0, 0, 1]], np.float64)
    fig = Layer(fsrc, fm, "figure")

    below = keys.get("chest") or (neck[0], neck[1] + span * 0.6)
    top = _apply(fm, (neck[0], neck[1] + 0.22 * (below[1] - neck[1])))
    pw, ph = pbox[2] - pbox[0], pbox[3] - pbox[1]
    pscale = fit_scale((0, 0, pw, ph), max_w=0.4 * span * scale, max_h=0.45 * h)
    m = place_matrix((0, 0, pw, ph), scale=pscale, anchor=(0.5, 0.0), at=top)
    product = Layer(prod, np.vstack([m, [0, 0, 1]]), "product", drop_shadow=True)
    return [fig, product], False, {"placement": "neck",
                                   "product_scale": round(pscale, 4)}


def dress(prod, pbox, fsrc, fbox, keys, kind: str, plan: Plan, base_y: float):
    """The garment cutout fitted on the figure's torso.

    The garment's body width (the median width of its lower rows, i.e. without
    sleeves) is scaled to the shoulder span, its collar sits just under the neck,
    and a perspective warp follows the shoulder tilt and the hips. The figure's
    forearms are drawn again on top, where they hang in front of the garment.
    """
    # Limitation: a perspective warp plus a sleeve bend, not a drape: coats with an
    # open front, trousers or very loose cuts sit only roughly, and fabric gets no
    # new folds. A garment-warping network (or a mesh fitted to the keypoints)
    # behind this function would lift it.
    needed = ("neck", "left_shoulder", "right_shoulder")
    if any(k not in keys for k in needed):
        return beside(prod, pbox, fsrc, fbox, keys, plan, base_y)
    w, h = plan.size
    fig, fm, fscale = _place_figure(fsrc, plan, height=plan.height * h,
                                    cx=plan.center_x * w, base_y=base_y)
    pt = {k: _apply(fm, v) for k, v in keys.items()}
    ls, rs, neck = pt["left_shoulder"], pt["right_shoulder"], pt["neck"]
    left_x, right_x = min(ls[0], rs[0]), max(ls[0], rs[0])
    span = max(right_x - left_x, 4.0)
    shoulder_y = (ls[1] + rs[1]) / 2

    body = _body_width(prod[..., 3])
    scale = span * 1.16 / body
    if scale < 0.8:
        # Bend the sleeves at about the final size: the remap is per pixel.
        ph0, pw0 = prod.shape[:2]
        size = (max(round(pw0 * scale * 1.25), 4), max(round(ph0 * scale * 1.25), 4))
        prod = cv2.resize(prod, size, interpolation=cv2.INTER_AREA)
        scale *= pw0 / size[0]
    prod = droop_sleeves(prod)
    ph, pw = prod.shape[:2]
    top = neck[1] - 0.1 * (shoulder_y - neck[1])
    cx = (ls[0] + rs[0]) / 2
    gw, gh = pw * scale, ph * scale
    bottom = top + gh

    # Follow the hips: the hem centres on them and widens or narrows towards them.
    hips = [pt[k] for k in ("left_hip", "right_hip") if k in pt]
    hem_cx, hem_w = cx, gw
    if len(hips) == 2:
        hip_cx = (hips[0][0] + hips[1][0]) / 2
        hip_y = (hips[0][1] + hips[1][1]) / 2
        reach = (bottom - top) / max(hip_y - top, 1.0)
        hem_cx = cx + (hip_cx - cx) * min(reach, 1.5)
        hip_span = abs(hips[0][0] - hips[1][0])
        ratio = (hip_span * 1.3) / max(span * 1.16, 1.0)
        hem_w = gw * float(np.clip(ratio, 0.9, 1.12))
    tilt = math.atan2(ls[1] - rs[1], ls[0] - rs[0]) if ls[0] > rs[0] else \
        math.atan2(rs[1] - ls[1], rs[0] - ls[0])
    ct, st = math.cos(tilt), math.sin(tilt)
    quad = np.float32([
        (cx - gw / 2 * ct, top - gw / 2 * st), (cx + gw / 2 * ct, top + gw / 2 * st),
        (hem_cx + hem_w / 2, bottom), (hem_cx - hem_w / 2, bottom),
    ])
    src = np.float32([(0, 0), (pw, 0), (pw, ph), (0, ph)])
    gm = cv2.getPerspectiveTransform(src, quad).astype(np.float64)
    garment = Layer(prod, gm, "garment")

    layers = [fig, garment]
    arms = _arms(fsrc, keys)
    if arms is not None:
        src, (ox, oy) = arms
        shift = np.array([[1, 0, ox], [0, 1, oy], [0, 0, 1]], np.float64)
        layers.append(Layer(src, fm @ shift, "arms", drop_shadow=True))
    return layers, True, {"placement": "worn", "garment_scale": round(scale, 4),
                          "figure_scale": round(fscale, 4),
                          "garment_box": [round(float(v), 1) for v in
                                          (quad[:, 0].min(), top, quad[:, 0].max(),
                                           bottom)]}


def _body_width(alpha: np.ndarray) -> float:
    """Median opaque width of the lower 40% of rows: the garment without sleeves."""
    rows = np.flatnonzero((alpha > 127).any(axis=1))
    lower = alpha[rows[0] + int(0.6 * (rows[-1] - rows[0])): rows[-1] + 1]
    widths = (lower > 127).sum(axis=1)
    return float(max(np.median(widths), 4.0))


SLEEVE_DROOP_DEG = 30.0


def droop_sleeves(garment: np.ndarray) -> np.ndarray:
    """Bend whatever sticks out beside the garment's body (the sleeves of a flat
    laid shirt) down about the shoulder seams, as it hangs on a body with its
    arms down. Garments whose lower part is the widest (dresses, trousers) have
    nothing beside the body and come back unchanged."""
    alpha = garment[..., 3]
    rows = np.flatnonzero((alpha > 127).any(axis=1))
    lower = alpha[rows[0] + int(0.6 * (rows[-1] - rows[0])): rows[-1] + 1] > 127
    filled = lower.any(axis=1)
    if filled.sum() < 4:
        return garment
    lefts = np.argmax(lower[filled], axis=1)
    rights = lower.shape[1] - 1 - np.argmax(lower[filled][:, ::-1], axis=1)
    bl, br = float(np.median(lefts)), float(np.median(rights))
    upper = alpha[rows[0]: rows[0] + int(0.5 * (rows[-1] - rows[0]))] > 127
    if not (upper[:, : int(bl)].any() or upper[:, int(br) + 1:].any()):
        return garment

    h, w = alpha.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    garment = _square_shoulders(garment, xs, ys, rows, bl, br)
    pivot_y = rows[0] + 0.12 * (br - bl)
    ramp = max(0.12 * (br - bl), 2.0)
    map_x, map_y = xs.copy(), ys.copy()
    for side, px in ((-1.0, bl), (1.0, br)):
        out = (xs - px) * side > 0
        theta = np.radians(SLEEVE_DROOP_DEG) * np.clip((xs - px) * side / ramp, 0, 1)
        # Source of each output pixel: rotate back up about the shoulder seam.
        c, s_ = np.cos(theta), np.sin(theta) * side
        vx, vy = xs - px, ys - pivot_y
        sx = px + vx * c + vy * s_
        sy = pivot_y - vx * s_ + vy * c
        map_x = np.where(out, sx, map_x)
        map_y = np.where(out, sy, map_y)
    return cv2.remap(garment, map_x.astype(np.float32), map_y.astype(np.float32),
                     cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _square_shoulders(garment, xs, ys, rows, bl: float, br: float) -> np.ndarray:
    """Lift the sloping shoulders of a flat-laid top level with its collar: a
    display form's shoulders are nearly square, and a slope would leave them
    showing above the seams. The lift fades out towards the armpits."""
    solid = garment[..., 3] > 127
    edge_col = solid[:, int(np.clip(bl, 0, solid.shape[1] - 1))]
    if not edge_col.any():
        return garment
    lift = float(np.argmax(edge_col) - rows[0])
    if lift < 2:
        return garment
    cx, half = (bl + br) / 2, max((br - bl) / 2, 1.0)
    armpit = rows[0] + 0.35 * (rows[-1] - rows[0])
    across = np.clip((np.abs(xs - cx) / half - 0.35) / 0.65, 0.0, 1.0)
    down = np.clip(1.0 - (ys - rows[0]) / max(armpit - rows[0], 1.0), 0.0, 1.0)
    map_y = ys + lift * across * down
    return cv2.remap(garment, xs, map_y.astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _arms(fsrc: np.ndarray, keys):
    """The figure's forearms as their own premultiplied layer, cropped, with the
    crop's offset in the figure; or None.

    Per row below the sleeves, the opaque run through the body's centre line is the
    torso; runs beside it, separated by a gap, are arms. An arm that touches the
    torso stays under the garment.
    """
    hands = [keys[k] for k in ("left_hand", "right_hand") if k in keys]
    shoulders = [keys[k] for k in ("left_shoulder", "right_shoulder") if k in keys]
    if not hands or len(shoulders) < 2:
        return None
    shoulder_y = (shoulders[0][1] + shoulders[1][1]) / 2
    hand_y = max(p[1] for p in hands)
    start = int(shoulder_y + 0.3 * (hand_y - shoulder_y))
    stop = int(min(hand_y + 0.1 * (hand_y - shoulder_y), fsrc.shape[0]))
    if stop <= start:
        return None

    c = int(np.clip(round((shoulders[0][0] + shoulders[1][0]) / 2), 0,
                    fsrc.shape[1] - 1))
    # Stop at the crotch: below it the centre line falls between the legs, and
    # the legs would count as arms.
    centre = fsrc[start:stop, c, 3] > 96
    if not centre.all():
        stop = start + int(np.argmin(centre))
    if stop - start < 4:
        return None
    solid = fsrc[start:stop, :, 3] > 96
    left = solid[:, c::-1]
    right = solid[:, c:]
    # Length of the run of opaque pixels from the centre outwards, per row.
    lgap = np.where(left.all(axis=1), left.shape[1], np.argmin(left, axis=1))
    rgap = np.where(right.all(axis=1), right.shape[1], np.argmin(right, axis=1))
    cols = np.arange(fsrc.shape[1])[None, :]
    torso = (cols > (c - lgap)[:, None]) & (cols < (c + rgap)[:, None])
    # Only near the forearms' lines from elbow to hand: a seam or a gap in the
    # body's outline must not turn part of the hips into an "arm".
    span = abs(shoulders[0][0] - shoulders[1][0])
    near = np.zeros(fsrc.shape[:2], np.uint8)
    for name, shoulder in (("left_hand", "left_shoulder"),
                           ("right_hand", "right_shoulder")):
        if name in keys and shoulder in keys:
            (sx, sy), (hx, hy) = keys[shoulder], keys[name]
            elbow = (int(sx + 0.3 * (hx - sx)), int(sy + 0.3 * (hy - sy)))
            cv2.line(near, elbow, (int(hx), int(hy)), 255,
                     max(int(0.22 * span), 3))
    arm = solid & ~torso & (near[start:stop] > 0)
    if arm.sum() < 20:
        return None
    mask = np.zeros(fsrc.shape[:2], np.uint8)
    mask[start:stop][arm] = 255
    # The arm fades in over its first rows, as if from under the sleeve's hem.
    fade = min(max(int(0.12 * (stop - start)), 2), stop - start)
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)[:, None]
    top = mask[start:start + fade].astype(np.float32) * ramp
    mask[start:start + fade] = top.astype(np.uint8)
    mask = cv2.GaussianBlur(mask, (0, 0), 1.0)
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = ys[0], ys[-1] + 1, xs[0], xs[-1] + 1
    m, part = mask[y0:y1, x0:x1], fsrc[y0:y1, x0:x1]
    out = np.dstack([cv2.multiply(part[..., :3], cv2.merge([m, m, m]), scale=1 / 255.0),
                     cv2.multiply(part[..., 3], m, scale=1 / 255.0)])
    return out, (int(x0), int(y0))


def shade_like(p: np.ndarray, a: np.ndarray, fig_p: np.ndarray,
               fig_a: np.ndarray) -> np.ndarray:
    """Carry the figure's large-scale shading (its folds, the side turned from the
    light) lightly onto the garment over it. All uint8 premultiplied; the shading
    is measured at quarter size, where folds survive and texture does not."""
    h, w = a.shape
    fp = shrink(fig_p, 4).astype(np.float32)
    fa = shrink(fig_a, 4).astype(np.float32)
    ga = shrink(a, 4)
    lum = fp.mean(axis=2) / np.maximum(fa, 1.0) * 255.0
    lum = cv2.GaussianBlur(lum, (0, 0), max(1.5, 0.01 * max(w, h)))
    inside = (fa > 127) & (ga > 127)
    if inside.sum() < 8:
        return p
    mean = float(lum[inside].mean())
    factor = np.clip(1.0 + 0.22 * (lum / max(mean, 1.0) - 1.0), 0.82, 1.1)
    factor = 1.0 + (factor - 1.0) * (fa / 255.0)
    f8 = cv2.resize(np.clip(factor * 128.0 + 0.5, 0, 255).astype(np.uint8), (w, h),
                    interpolation=cv2.INTER_LINEAR)
    out = cv2.multiply(p, cv2.merge([f8, f8, f8]), scale=1 / 128.0)
    return cv2.min(out, cv2.merge([a, a, a]))
