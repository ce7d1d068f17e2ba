"""From a coarse saliency map to a clean, full-resolution alpha and edge colours.

The network sees the photo at 320x320, so its mask is right about *what* the
product is but only roughly about *where* its edge runs. ``refine_alpha`` keeps the
main components, fills pinholes, then lets a colour guided filter snap the edge to
the photo's own edges at full resolution. ``decontaminate`` then estimates the
true foreground colour of the edge pixels (closed-form ML estimation from
pymatting), which removes the rim of old background that a plain alpha leaves.
"""

from __future__ import annotations

import cv2
import numpy as np

# Refinement runs at most at this long side; beyond it the eye cannot tell and
# the guided filter's cost grows with the pixel count.
WORK_SIDE = 2048

# Foreground colours are smooth along an edge; estimating them on a smaller crop
# and using them only in the edge band is indistinguishable and much cheaper.
FOREGROUND_SIDE = 512


def _box(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def guided_filter(
    guide: np.ndarray, src: np.ndarray, *, radius: int, eps: float, subsample: int = 1
) -> np.ndarray:
    """He et al.'s colour guided filter (float32 guide HxWx3 in [0,1], src HxW).

    The output is locally a linear function of the guide's colour, so a blurry
    mask takes on the photo's edges, including edges that differ only in hue.
    ``subsample`` > 1 is the "fast guided filter": the linear coefficients are
    fitted on a smaller grid and applied at full resolution, which costs little
    accuracy because they vary smoothly.
    """
    height, width = src.shape
    if subsample > 1:
        size = (max(1, width // subsample), max(1, height // subsample))
        guide_s = cv2.resize(guide, size, interpolation=cv2.INTER_AREA)
        src_s = cv2.resize(src, size, interpolation=cv2.INTER_AREA)
        r = max(1, round(radius / subsample))
    else:
        guide_s, src_s, r = guide, src, radius

    mean_i = _box(guide_s, r)
    mean_p = _box(src_s, r)
    cov = _box(guide_s * src_s[..., None], r) - mean_i * mean_p[..., None]

    # Per-pixel 3x3 covariance of the guide, inverted in closed form (cofactors):
    # an order of magnitude faster than a batched np.linalg.solve.
    g = [guide_s[..., k] for k in range(3)]
    m = [mean_i[..., k] for k in range(3)]

    def var(i: int, j: int) -> np.ndarray:
        return _box(g[i] * g[j], r) - m[i] * m[j]

    a, b, c = var(0, 0) + eps, var(0, 1), var(0, 2)
    d, e, f = var(1, 1) + eps, var(1, 2), var(2, 2) + eps
    i00, i01, i02 = d * f - e * e, c * e - b * f, b * e - c * d
    i11, i12, i22 = a * f - c * c, b * c - a * e, a * d - b * b
    det = a * i00 + b * i01 + c * i02
    cx, cy, cz = cov[..., 0], cov[..., 1], cov[..., 2]
    coef = (
        np.dstack(
            [
                i00 * cx + i01 * cy + i02 * cz,
                i01 * cx + i11 * cy + i12 * cz,
                i02 * cx + i12 * cy + i22 * cz,
            ]
        )
        / det[..., None]
    )
    offset = mean_p - np.einsum("hwc,hwc->hw", coef, mean_i)

    mean_coef = _box(coef, r)
    mean_off = _box(offset, r)
    if subsample > 1:
        mean_coef = cv2.resize(
            mean_coef, (width, height), interpolation=cv2.INTER_LINEAR
        )
        mean_off = cv2.resize(mean_off, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.einsum("hwc,hwc->hw", mean_coef, guide) + mean_off


def main_components(mask: np.ndarray, *, keep_ratio: float = 0.15) -> np.ndarray:
    """Components at least ``keep_ratio`` of the largest one's area (bool HxW).

    Keeps a pair of shoes or earrings together while dropping specks the network
    found salient in the backdrop.
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    if count <= 1:
        return np.zeros_like(mask, dtype=bool)
    areas = stats[:, cv2.CC_STAT_AREA]
    keep = areas >= keep_ratio * areas[1:].max()
    keep[0] = False  # the background
    return keep[labels]


def fill_small_holes(mask: np.ndarray, *, max_fraction: float = 0.01) -> np.ndarray:
    """Fill enclosed background regions smaller than ``max_fraction`` of the mask.

    Pinholes (a shiny highlight the network doubted) are filled; real openings
    such as a ring's centre or a mug's handle are far larger and stay open.
    """
    inverse = (~mask).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(inverse, connectivity=4)
    h, w = mask.shape
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    bw, bh = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    touches_border = (x == 0) | (y == 0) | (x + bw == w) | (y + bh == h)
    fill = ~touches_border & (stats[:, cv2.CC_STAT_AREA] <= max_fraction * mask.sum())
    fill[0] = False  # label 0 is the mask itself

    # A lookup table over labels: one pass, however many pinholes there are.
    return mask | fill[labels]


def doubtful_parts(rgb: np.ndarray, prob: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Weakly salient pixels attached to the product that do not look like backdrop.

    u2netp is unsure about parts that contrast with the product itself (a dark
    cap on a bright bottle, a strap): they score 0.03-0.5 while the backdrop
    scores about 0. Such pixels are kept when they are connected to the product
    and their colour is more than 4 sigma away from the backdrop's around it.
    """
    weak = prob > 0.03
    count, labels = cv2.connectedComponents(weak.astype(np.uint8), connectivity=8)
    attached = np.zeros(count, bool)
    attached[labels[mask & weak]] = True
    attached[0] = False
    candidates = attached[labels] & ~mask
    if not candidates.any():
        return candidates

    # The backdrop around the product: confidently background, within reach.
    reach = max(5, round(0.05 * max(mask.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * reach + 1, 2 * reach + 1))
    near = cv2.dilate((mask | candidates).astype(np.uint8), kernel).astype(bool)
    backdrop = rgb[near & (prob < 0.02)].astype(np.float32)
    if len(backdrop) < 50:
        return np.zeros_like(mask, dtype=bool)
    mean = backdrop.mean(axis=0)
    cov = np.cov(backdrop, rowvar=False) + np.eye(3, dtype=np.float32) * 4.0
    diff = rgb[candidates].astype(np.float32) - mean
    d2 = np.einsum("nc,cd,nd->n", diff, np.linalg.inv(cov).astype(np.float32), diff)

    # A cast shadow is the backdrop's own colour, only darker: same chromaticity,
    # 45-100% of its brightness. Those stay backdrop; a black cap (far darker)
    # or a coloured strap (different hue) does not look like that.
    pixels = rgb[candidates].astype(np.float32)
    chroma = pixels[:, :2] / (pixels.sum(axis=1, keepdims=True) + 1.0)
    bg_chroma = backdrop[:, :2] / (backdrop.sum(axis=1, keepdims=True) + 1.0)
    spread = np.maximum(3.0 * bg_chroma.std(axis=0), 0.015)
    same_hue = (np.abs(chroma - bg_chroma.mean(axis=0)) < spread).all(axis=1)
    ratio = pixels.sum(axis=1) / max(float(mean.sum()), 1.0)
    shadow_like = same_hue & (ratio > 0.45) & (ratio < 1.02)

    keep = np.zeros(mask.shape, np.uint8)
    keep[candidates] = (d2 > 16.0) & ~shadow_like

    # Backdrop grain past 4 sigma is rare but scattered; a part is a solid area.
    return cv2.morphologyEx(keep, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0


def refine_alpha(rgb: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """Full-resolution float32 alpha in [0, 1] from the network's probability map.

    Returns all zeros when nothing salient was found.
    """
    height, width = prob.shape
    scale = min(1.0, WORK_SIDE / max(height, width))
    if scale < 1.0:
        size = (round(width * scale), round(height * scale))
        rgb_w = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        prob_w = cv2.resize(prob, size, interpolation=cv2.INTER_LINEAR)
    else:
        rgb_w, prob_w = rgb, prob

    mask = main_components(prob_w > 0.5)
    if not mask.any():
        return np.zeros((height, width), np.float32)
    mask = fill_small_holes(mask | doubtful_parts(rgb_w, prob_w, mask))

    # The radius must cover the network's edge error: one 320-grid cell upsampled
    # is long_side/320 pixels; twice that lets the filter find the true edge.
    # Only a box around the mask can change, so the filter runs on that crop.
    long_side = max(prob_w.shape)
    radius = max(2, round(2 * long_side / 320))
    top, bottom, left, right = bounding_box(mask)
    pad = 3 * radius
    y0, y1 = max(top - pad, 0), min(bottom + pad, mask.shape[0])
    x0, x1 = max(left - pad, 0), min(right + pad, mask.shape[1])
    guide = rgb_w[y0:y1, x0:x1].astype(np.float32) / 255.0
    soft = np.zeros(mask.shape, np.float32)
    soft[y0:y1, x0:x1] = guided_filter(
        guide,
        mask[y0:y1, x0:x1].astype(np.float32),
        radius=radius,
        eps=2e-3,
        subsample=2 if long_side > 640 else 1,
    )

    # The filtered mask ramps over about the radius where the photo's edge is
    # weak; stretching around 0.5 gives a crisp edge that is still anti-aliased.
    alpha = np.clip((soft - 0.5) * 2.5 + 0.5, 0.0, 1.0)

    # Pull the edge in by a pixel: the outermost ring is mostly old background
    # blurred in by the lens, and a hair too small never shows as a halo.
    alpha = cv2.erode(alpha, np.ones((3, 3), np.uint8))
    alpha = cv2.GaussianBlur(alpha, (3, 3), 0.6)
    alpha[alpha < 0.02] = 0.0

    if scale < 1.0:
        alpha = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR)
    return alpha.astype(np.float32)


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(y0, y1, x0, x1)`` of the True pixels (end-exclusive), None if none.

    Row and column ``any`` instead of ``np.nonzero``: no index arrays, which
    matters on 12-megapixel masks.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def decontaminate(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The product's own colours (uint8 RGB) at the edge, hidden colours zeroed.

    Only pixels with partial alpha (and a couple of pixels around them) are
    re-estimated; fully opaque pixels keep the photo's colour exactly.
    """
    out = np.zeros_like(rgb)
    box = bounding_box(alpha > 0)
    if box is None:
        return out
    pad = 8
    y0, y1 = max(box[0] - pad, 0), min(box[1] + pad, rgb.shape[0])
    x0, x1 = max(box[2] - pad, 0), min(box[3] + pad, rgb.shape[1])
    crop = rgb[y0:y1, x0:x1]
    crop_a = alpha[y0:y1, x0:x1]
    visible = crop_a > 0
    region = out[y0:y1, x0:x1]
    region[:] = np.where(visible[..., None], crop, 0)
    partial = visible & (crop_a < 1)
    if not partial.any():
        return out

    # Resized before going to float, so a 12 MP photo never exists as float.
    ch, cw = crop_a.shape
    scale = min(1.0, FOREGROUND_SIDE / max(ch, cw))
    if scale < 1.0:
        size = (max(round(cw * scale), 1), max(round(ch * scale), 1))
        small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        small_a = cv2.resize(crop_a, size, interpolation=cv2.INTER_AREA)
    else:
        small, small_a = crop, crop_a

    # Imported here: pymatting pulls in numba, whose first import is slow.
    from pymatting.foreground.estimate_foreground_ml import estimate_foreground_ml

    fg = estimate_foreground_ml(
        small.astype(np.float64) / 255.0, small_a.astype(np.float64)
    )
    fg = cv2.convertScaleAbs(np.asarray(fg, np.float32), alpha=255.0)
    if scale < 1.0:
        fg = cv2.resize(fg, (cw, ch), interpolation=cv2.INTER_LINEAR)

    band = cv2.dilate(partial.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    band &= visible
    region[:] = np.where(band[..., None], fg, region)
    return out
