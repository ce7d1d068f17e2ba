"""A photo of a real model turned into a :class:`Figure` for the compositor.

The person is cut out like a product, and body keypoints are *estimated from the
silhouette alone*: the widths of the mask's rows and standard body proportions.
This is best effort. It is right for a person standing upright and facing the
camera with the arms down; a turned body, raised arms or a seated pose give
keypoints that are only roughly where the joints are.

# Limitation: no pose network; keypoints come from the silhouette's row widths,
# so poses other than standing, frontal and arms-down are placed poorly. A small
# ONNX pose model (e.g. MoveNet) behind the same function would lift it.
"""

from __future__ import annotations

import numpy as np

from lightbox.engine.types import KEYPOINTS, EngineError, Figure

_SOLID = 127  # alpha above which a pixel counts as body


def figure_from_photo(image: np.ndarray, *, model=None) -> Figure:
    """Cut the person out of ``image`` (RGB, or RGBA with a real alpha) and guess
    where the body parts are. A silhouette at least twice as tall as it is wide
    is taken as a full figure (head to feet); a squarer one as an upper body."""
    from lightbox.engine.cutout import cut_out

    rgba = cut_out(image, model=model)
    mask = rgba[..., 3] > _SOLID
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size < 16 or cols.size < 4:
        raise EngineError(
            f"figure photo: the cut-out person is too small to find a body in "
            f"({cols.size}x{rows.size} solid pixels)"
        )
    kind = "full" if rows.size >= 2.0 * cols.size else "torso"
    return Figure(rgba=rgba, keypoints=estimate_keypoints(mask, kind=kind),
                  kind=kind, source="photo")


def estimate_keypoints(
    mask: np.ndarray, *, kind: str,
) -> dict[str, tuple[float, float]]:
    """Keypoints of an upright, frontal silhouette (boolean ``mask``), in
    ``KEYPOINTS`` order; a "torso" (upper body) has no hands or feet."""
    rows = np.flatnonzero(mask.any(axis=1))
    top, bottom = int(rows[0]), int(rows[-1])
    height = bottom - top + 1
    counts = mask.sum(axis=1).astype(np.float64)
    left_edge, right_edge, torso_run = _torso_runs(mask)

    # Neck: the narrowest row below the head. A full figure's head is about an
    # eighth of its height; an upper-body crop's head a third or so.
    lo, hi = (0.07, 0.24) if kind == "full" else (0.12, 0.5)
    band = np.arange(top + int(lo * height), top + int(hi * height) + 1)
    neck_y = int(band[np.argmin(_smooth(counts)[band])])
    head = max(neck_y - top, 4)

    # Shoulders: where the silhouette below the neck first reaches (nearly) its
    # widest; lower rows may be wider still only because the arms hang outwards.
    band = np.arange(neck_y + 1, min(neck_y + int(0.9 * head) + 2, bottom))
    shoulder_y = neck_y + 1
    if band.size:
        widths = (right_edge - left_edge)[band]
        shoulder_y = int(band[np.argmax(widths >= 0.9 * widths.max())])
    cx = float(left_edge[neck_y] + right_edge[neck_y]) / 2
    inset = 0.1 * (right_edge[shoulder_y] - left_edge[shoulder_y])
    keys: dict[str, tuple[float, float]] = {
        "head_top": (cx, float(top)),
        "neck": (cx, float(neck_y)),
        "left_shoulder": (float(right_edge[shoulder_y] - inset), float(shoulder_y)),
        "right_shoulder": (float(left_edge[shoulder_y] + inset), float(shoulder_y)),
    }

    # The trunk below the shoulders scales with the head (about 3 heads to the
    # hips); an upper-body crop may end before the hips.
    chest_y = min(shoulder_y + 0.7 * head, bottom)
    waist_y = min(shoulder_y + 1.6 * head, bottom)
    hip_y = int(min(shoulder_y + 2.3 * head, bottom))
    hl, hr = torso_run[hip_y]
    keys["chest"] = (cx, float(chest_y))
    keys["waist"] = (cx, float(waist_y))
    keys["left_hip"] = (float(hr - 0.22 * (hr - hl)), float(hip_y))
    keys["right_hip"] = (float(hl + 0.22 * (hr - hl)), float(hip_y))

    if kind == "full":
        keys.update(_hands(mask, torso_run, shoulder_y, hip_y, keys))
        foot_rows = mask[max(bottom - int(0.03 * height), 0): bottom + 1]
        xs = np.flatnonzero(foot_rows.any(axis=0))
        span = xs[-1] - xs[0]
        keys["left_foot"] = (float(xs[-1] - 0.25 * span), float(bottom))
        keys["right_foot"] = (float(xs[0] + 0.25 * span), float(bottom))
    return {k: keys[k] for k in KEYPOINTS if k in keys}


def _smooth(values: np.ndarray, k: int = 5) -> np.ndarray:
    kernel = np.ones(k) / k
    return np.convolve(values, kernel, mode="same")


def _torso_runs(mask: np.ndarray):
    """Per row: leftmost and rightmost solid column, and the run through the
    silhouette's centre column (the trunk, without arms hanging apart from it)."""
    _h, w = mask.shape
    any_row = mask.any(axis=1)
    left = np.where(any_row, np.argmax(mask, axis=1), 0)
    right = np.where(any_row, w - 1 - np.argmax(mask[:, ::-1], axis=1), 0)
    cols = np.flatnonzero(mask.any(axis=0))
    c = int(np.median(np.flatnonzero(mask[mask.any(axis=1)].any(axis=0)))) \
        if cols.size else w // 2
    lpart = mask[:, c::-1]
    rpart = mask[:, c:]
    lgap = np.where(lpart.all(axis=1), lpart.shape[1], np.argmin(lpart, axis=1))
    rgap = np.where(rpart.all(axis=1), rpart.shape[1], np.argmin(rpart, axis=1))
    run = np.stack([c - lgap + 1, c + rgap - 1], axis=1).astype(np.float64)
    # Rows where the centre column is empty (between the legs): use the full row.
    empty = ~mask[:, c]
    run[empty, 0], run[empty, 1] = left[empty], right[empty]
    return left.astype(np.float64), right.astype(np.float64), run


def _hands(mask, torso_run, shoulder_y: int, hip_y: int, keys):
    """The lowest point of each arm hanging apart from the trunk; where an arm
    touches the body, a point at hip height just outside the trunk."""
    h, w = mask.shape
    cols = np.arange(w)[None, :]
    out = {}
    for name, side in (("right_hand", -1), ("left_hand", 1)):
        region = slice(shoulder_y, min(hip_y + (hip_y - shoulder_y), h))
        run = torso_run[region]
        if side < 0:
            apart = mask[region] & (cols < run[:, :1])
        else:
            apart = mask[region] & (cols > run[:, 1:])
        ys = np.flatnonzero(apart.sum(axis=1) > 1)
        if ys.size:
            y = int(ys[-1])
            xs = np.flatnonzero(apart[y])
            out[name] = (float(xs.mean()), float(y + shoulder_y))
        else:
            edge = torso_run[hip_y][0 if side < 0 else 1]
            out[name] = (float(edge + side * 4), float(hip_y))
    return out
