"""Render the example images shown in docs/engine.md (docs/examples/).

The products are drawn here with NumPy/OpenCV (a glossy bottle with a label, a
T-shirt with fabric shading) and photographed on a noisy backdrop, so the cutout
network runs for real, as it does on an upload. Run from the repository root:

    python scripts/make_examples.py [--out docs/examples]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from lightbox.engine import get_engine
from lightbox.engine.imageio import as_rgb, encode_jpeg, fit_within
from lightbox.engine.types import PackshotOptions, ShootSpec

SS = 4  # supersampling for anti-aliased drawing


def _smooth_noise(rng: np.random.Generator, shape, scale: float) -> np.ndarray:
    """Zero-mean noise with features about ``scale`` pixels wide, in -1..1."""
    rows, cols = max(int(shape[0] / scale), 2), max(int(shape[1] / scale), 2)
    small = rng.normal(size=(rows, cols))
    big = cv2.resize(small.astype(np.float32), (shape[1], shape[0]),
                     interpolation=cv2.INTER_CUBIC)
    return big / (np.abs(big).max() + 1e-6)


def draw_bottle(size: int = 900, seed: int = 1) -> np.ndarray:
    """A glossy cobalt serum bottle with a cream label and a brushed-gold cap."""
    rng = np.random.default_rng(seed)
    big = size * SS
    mask = np.zeros((big, big), np.uint8)
    cx, w2 = big // 2, int(big * 0.17)
    top_body, bottom = int(big * 0.36), int(big * 0.92)
    cv2.rectangle(mask, (cx - w2, top_body), (cx + w2, bottom - w2 // 3), 255, -1)
    cv2.ellipse(mask, (cx, bottom - w2 // 3), (w2, w2 // 3), 0, 0, 180, 255, -1)
    shoulder = np.array([[cx - w2, top_body + 2], [cx - w2 // 3, int(big * 0.27)],
                         [cx + w2 // 3, int(big * 0.27)], [cx + w2, top_body + 2]],
                        np.int32)
    cv2.fillPoly(mask, [shoulder], 255)
    cv2.ellipse(mask, (cx, top_body), (w2, int(big * 0.06)), 0, 180, 360, 255, -1)
    neck_w = int(w2 * 0.36)
    cv2.rectangle(mask, (cx - neck_w, int(big * 0.2)), (cx + neck_w, int(big * 0.28)),
                  255, -1)
    cap = np.zeros_like(mask)
    cap_w = int(w2 * 0.5)
    cv2.rectangle(cap, (cx - cap_w, int(big * 0.08)), (cx + cap_w, int(big * 0.21)),
                  255, -1)
    label = np.zeros_like(mask)
    cv2.rectangle(label, (cx - w2, int(big * 0.5)), (cx + w2, int(big * 0.75)), 255, -1)
    label &= mask

    # Cylinder shading: dark rims, a broad lit side and a sharp specular stripe.
    xs = (np.arange(big, dtype=np.float32) - cx) / w2
    u = np.clip(xs, -1, 1)
    lambert = np.sqrt(np.clip(1 - u ** 2, 0, 1)) * (0.75 - 0.25 * u)
    spec = np.exp(-((u + 0.42) / 0.07) ** 2) + 0.35 * np.exp(-((u - 0.62) / 0.05) ** 2)
    glass = np.array([22, 60, 170], np.float32)
    img = np.zeros((big, big, 3), np.float32)
    img[:] = glass * (0.35 + 0.9 * lambert)[None, :, None]
    img += (spec * 235)[None, :, None]
    paper = np.array([238, 230, 212], np.float32) * (
        0.7 + 0.33 * lambert)[None, :, None]
    paper += (spec * 40)[None, :, None]
    lab = label > 0
    img[lab] = np.broadcast_to(paper, img.shape)[lab]
    gold = np.array([196, 160, 92], np.float32)
    cu = np.clip((np.arange(big, dtype=np.float32) - cx) / cap_w, -1, 1)
    brushed = 0.55 + 0.5 * np.sqrt(np.clip(1 - cu ** 2, 0, 1)) + 0.5 * np.exp(
        -((cu + 0.35) / 0.12) ** 2)
    streaks = 1 + 0.06 * _smooth_noise(rng, (big, big), 3)
    cap_img = gold[None, None, :] * brushed[None, :, None] * streaks[..., None]
    img[cap > 0] = cap_img[cap > 0]

    # The label's print: a wordmark and two rules.
    ink = (40, 44, 70)
    font = cv2.FONT_HERSHEY_TRIPLEX
    text = "LUMEN"
    scale = big / 430
    (tw, _th), _ = cv2.getTextSize(text, font, scale, max(int(scale * 2), 1))
    cv2.putText(img, text, (cx - tw // 2, int(big * 0.63)), font, scale, ink,
                max(int(scale * 2), 1), cv2.LINE_AA)
    for y in (0.53, 0.7):
        cv2.line(img, (cx - int(w2 * 0.7), int(big * y)), (cx + int(w2 * 0.7),
                 int(big * y)), ink, max(big // 500, 1), cv2.LINE_AA)
    cv2.putText(img, "HYDRATING SERUM", (cx - int(w2 * 0.62), int(big * 0.675)),
                cv2.FONT_HERSHEY_SIMPLEX, scale * 0.28, ink, max(int(scale * 0.6), 1),
                cv2.LINE_AA)

    alpha = np.maximum(mask, cap)
    rgb = cv2.resize(np.clip(img, 0, 255).astype(np.uint8), (size, size),
                     interpolation=cv2.INTER_AREA)
    a = cv2.resize(alpha, (size, size), interpolation=cv2.INTER_AREA)
    return np.dstack([rgb, a])


def draw_tshirt(size: int = 900, seed: int = 2) -> np.ndarray:
    """A teal crew-neck T-shirt laid flat: body, short sleeves, ribbed collar and
    hems, soft folds and a knit texture."""
    rng = np.random.default_rng(seed)
    big = size * SS
    s = big / 100.0
    body = np.array([[30, 14], [40, 10], [60, 10], [70, 14], [90, 30], [82, 42],
                     [72, 36], [73, 92], [27, 92], [28, 36], [18, 42], [10, 30]],
                    np.float32) * s
    mask = np.zeros((big, big), np.uint8)
    cv2.fillPoly(mask, [body.astype(np.int32)], 255)
    cv2.ellipse(mask, (int(50 * s), int(10 * s)), (int(10 * s), int(7 * s)), 0, 0, 180,
                0, -1)

    base = np.array([24, 128, 134], np.float32)
    folds = 0.14 * _smooth_noise(rng, (big, big), big / 7) + 0.06 * _smooth_noise(
        rng, (big, big), big / 22)
    yy, xx = np.mgrid[0:big, 0:big].astype(np.float32) / big
    light = 1.0 + 0.12 * (0.5 - xx) + 0.06 * (0.5 - yy)
    knit = 1 + 0.05 * rng.normal(size=(big // 2, big // 2)).astype(np.float32)
    knit = cv2.resize(knit, (big, big), interpolation=cv2.INTER_NEAREST)
    img = base[None, None, :] * ((1 + folds) * light * knit)[..., None]

    # Ribbing and hems: darker bands a little inside the outline.
    rib = np.zeros_like(mask)
    cv2.ellipse(rib, (int(50 * s), int(10 * s)), (int(12 * s), int(9 * s)), 0, 0, 180,
                255, int(2.2 * s))
    cv2.line(rib, (int(27 * s), int(90 * s)), (int(73 * s), int(90 * s)), 255,
             int(2.4 * s))
    for a_, b_ in (((18, 42), (10, 30)), ((82, 42), (90, 30))):
        cv2.line(rib, (int(a_[0] * s), int(a_[1] * s)), (int(b_[0] * s),
                 int(b_[1] * s)), 255, int(2.2 * s))
    rib &= mask
    img[rib > 0] *= 0.8
    alpha = mask
    rgb = cv2.resize(np.clip(img, 0, 255).astype(np.uint8), (size, size),
                     interpolation=cv2.INTER_AREA)
    a = cv2.resize(alpha, (size, size), interpolation=cv2.INTER_AREA)
    return np.dstack([rgb, a])


def photograph(
    product: np.ndarray, *, seed: int, backdrop=(214, 204, 188),
) -> np.ndarray:
    """The product on a mottled paper backdrop with a soft shadow, slightly soft
    focus and sensor noise: what a phone photo of it looks like."""
    rng = np.random.default_rng(seed)
    h, w = product.shape[:2]
    canvas_h, canvas_w = int(h * 1.25), int(w * 1.25)
    yy = np.linspace(0, 1, canvas_h, dtype=np.float32)[:, None, None]
    bg = np.array(backdrop, np.float32)[None, None, :] * (1.05 - 0.15 * yy)
    bg = bg * (1 + 0.05 * _smooth_noise(rng, (canvas_h, canvas_w), 40))[..., None]
    bg = np.broadcast_to(bg, (canvas_h, canvas_w, 3)).copy()
    oy, ox = (canvas_h - h) // 2, (canvas_w - w) // 2
    a = product[..., 3:].astype(np.float32) / 255
    shadow = cv2.GaussianBlur(product[..., 3], (0, 0), w / 40).astype(np.float32) / 255
    sy, sx = oy + int(h * 0.02), ox + int(w * 0.03)
    bg[sy:sy + h, sx:sx + w] *= (1 - 0.35 * shadow)[..., None]
    region = bg[oy:oy + h, ox:ox + w]
    bg[oy:oy + h, ox:ox + w] = product[..., :3] * a + region * (1 - a)
    bg = cv2.GaussianBlur(bg, (0, 0), 0.7)
    bg += rng.normal(0, 3.0, bg.shape).astype(np.float32)
    return np.clip(bg, 0, 255).astype(np.uint8)


def save(path: Path, image: np.ndarray, *, long_side: int = 1024) -> None:
    data = encode_jpeg(fit_within(as_rgb(image), long_side), quality=92)
    path.write_bytes(data)
    print(f"{path}  {len(data) // 1024} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/examples"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    engine = get_engine()
    started = time.perf_counter()

    bottle = engine.cutout(photograph(draw_bottle(), seed=11))
    shirt = engine.cutout(photograph(draw_tshirt(), seed=12, backdrop=(222, 214, 200)))
    save(args.out / "product-photo.jpg", photograph(draw_bottle(), seed=11))

    packshot = engine.packshot(bottle, options=PackshotOptions(size=(1600, 1600)),
                               seed=1)
    save(args.out / "packshot.jpg", packshot)

    marble = engine.scenery("warm marble table top, soft morning light", seed=4)
    beach = engine.scenery("sunset beach", seed=7)
    save(args.out / "scenery-marble.jpg", marble.image)
    save(args.out / "scenery-beach.jpg", beach.image)

    mannequin = engine.mannequin("matte white female mannequin", seed=3)
    save(args.out / "mannequin.jpg", mannequin.rgba)

    studio = engine.scenery("bright airy studio", seed=5)
    shots = {
        "shoot-bottle-marble.jpg": ShootSpec(
            product=bottle, scenery=marble, industry="cosmetics",
            suggestions="soft light", seed=2, variant=0),
        "shoot-tshirt-mannequin.jpg": ShootSpec(
            product=shirt, scenery=studio, figure=mannequin, industry="fashion",
            suggestions="bright airy", seed=1, variant=1),
        "shoot-bottle-beach.jpg": ShootSpec(
            product=bottle, scenery=beach, industry="electronics",
            suggestions="golden hour", seed=3, variant=2),
        "shoot-bottle-moody.jpg": ShootSpec(
            product=bottle, scenery=engine.scenery("dark concrete, dramatic", seed=0),
            industry="cosmetics", suggestions="dark moody, side light", seed=4),
    }
    for name, spec in shots.items():
        save(args.out / name, engine.shoot(spec).image)
    print(f"done in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
