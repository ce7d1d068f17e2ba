"""Sample product photos drawn in code, for the demo team and the README examples.

They are shaded like studio photographs (cylindrical light falloff, a specular
stripe, soft fabric folds) and come with a real alpha channel, so they double as
cut-outs; ``on_backdrop`` puts one on a textured backdrop to exercise the cutout
network the way a real phone photo would.
"""

from __future__ import annotations

import cv2
import numpy as np

SIZE = 1024


def _cylinder_shade(width: int, *, highlight: float = 0.32) -> np.ndarray:
    """Per-column brightness of a lit cylinder: falloff to the edges, one highlight."""
    x = np.linspace(-1.0, 1.0, width)
    diffuse = 0.55 + 0.45 * np.sqrt(np.clip(1 - x**2, 0, 1))
    specular = 0.55 * np.exp(-(((x + highlight) / 0.09) ** 2))
    rim = 0.12 * np.exp(-(((x - 0.88) / 0.06) ** 2))
    return diffuse + specular + rim


def _paint(canvas: np.ndarray, alpha: np.ndarray, mask: np.ndarray,
           color: np.ndarray) -> None:
    inside = mask > 0
    canvas[inside] = color[inside] if color.ndim == 3 else color
    alpha[inside] = np.maximum(alpha[inside], mask[inside])


def _finish(canvas: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    # Draw at 2x and downscale: anti-aliased edges without per-shape work.
    rgba = np.dstack([canvas, alpha]).astype(np.uint8)
    return cv2.resize(rgba, (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def _column_fill(mask: np.ndarray, base: tuple[int, int, int], x0: int,
                 x1: int, *, highlight: float = 0.32) -> np.ndarray:
    shade = np.ones(mask.shape[1])
    shade[x0:x1] = _cylinder_shade(x1 - x0, highlight=highlight)
    layer = np.asarray(base, np.float32)[None, None, :] * shade[None, :, None]
    return np.broadcast_to(layer, mask.shape + (3,)).clip(0, 255)


def serum_bottle() -> np.ndarray:
    """An amber glass dropper bottle with a cream label."""
    n = SIZE * 2
    canvas = np.zeros((n, n, 3), np.float32)
    alpha = np.zeros((n, n), np.uint8)

    body = np.zeros((n, n), np.uint8)
    cv2.rectangle(body, (720, 760), (1328, 1820), 255, -1)
    cv2.ellipse(body, (1024, 760), (304, 120), 0, 180, 360, 255, -1)
    cv2.ellipse(body, (1024, 1820), (304, 40), 0, 0, 180, 255, -1)
    _paint(canvas, alpha, body, _column_fill(body, (176, 92, 28), 720, 1328))

    label = np.zeros((n, n), np.uint8)
    cv2.rectangle(label, (720, 1080), (1328, 1560), 255, -1)
    label_fill = _column_fill(label, (236, 226, 204), 720, 1328, highlight=0.4)
    _paint(canvas, alpha, label, label_fill)
    cv2.line(canvas, (860, 1250), (1188, 1250), (70, 52, 40), 14)
    cv2.line(canvas, (900, 1330), (1148, 1330), (120, 100, 84), 8)

    neck = np.zeros((n, n), np.uint8)
    cv2.rectangle(neck, (900, 560), (1148, 680), 255, -1)
    _paint(canvas, alpha, neck, _column_fill(neck, (150, 78, 24), 900, 1148))

    cap = np.zeros((n, n), np.uint8)
    cv2.rectangle(cap, (860, 380), (1188, 580), 255, -1)
    _paint(canvas, alpha, cap, _column_fill(cap, (30, 30, 32), 860, 1188))

    bulb = np.zeros((n, n), np.uint8)
    cv2.ellipse(bulb, (1024, 300), (120, 150), 0, 0, 360, 255, -1)
    _paint(canvas, alpha, bulb, _column_fill(bulb, (40, 38, 40), 904, 1144))
    return _finish(canvas, alpha)


def tshirt(color: tuple[int, int, int] = (46, 84, 140)) -> np.ndarray:
    """A crew-neck T-shirt laid flat, with soft fabric folds."""
    n = SIZE * 2
    outline = np.array(
        [(700, 330), (880, 290), (940, 360), (1108, 360), (1168, 290), (1348, 330),
         (1700, 560), (1580, 800), (1420, 720), (1430, 1760), (618, 1760),
         (628, 720), (468, 800), (348, 560)], np.int32,
    )
    mask = np.zeros((n, n), np.uint8)
    cv2.fillPoly(mask, [outline], 255)
    cv2.ellipse(mask, (1024, 330), (150, 110), 0, 0, 180, 0, -1)

    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    # Long vertical drapes, a little wavy, as fabric falls when laid flat.
    folds = (
        0.07 * np.sin(xx / 85.0 + 0.8 * np.sin(yy / 260.0))
        + 0.035 * np.sin(xx / 31.0 + yy / 500.0)
    )
    light = 1.0 - 0.18 * ((xx - 900) ** 2 + (yy - 700) ** 2) / (n * n)
    weave = np.random.default_rng(7).normal(0, 0.015, (n, n)).astype(np.float32)
    shade = (light + folds + weave)[..., None]
    fabric = (np.asarray(color, np.float32) * shade).clip(0, 255)

    canvas = np.zeros((n, n, 3), np.float32)
    alpha = np.zeros((n, n), np.uint8)
    _paint(canvas, alpha, mask, fabric)

    collar = np.zeros((n, n), np.uint8)
    cv2.ellipse(collar, (1024, 330), (172, 132), 0, 0, 180, 255, 26)
    collar &= mask
    darker = (np.asarray(color, np.float32) * 0.72 * shade).clip(0, 255)
    _paint(canvas, alpha, collar, darker)
    return _finish(canvas, alpha)


def mug() -> np.ndarray:
    """A glazed ceramic mug with a handle."""
    n = SIZE * 2
    canvas = np.zeros((n, n, 3), np.float32)
    alpha = np.zeros((n, n), np.uint8)

    handle = np.zeros((n, n), np.uint8)
    cv2.ellipse(handle, (1420, 1100), (230, 280), 0, 0, 360, 255, 90)
    handle[:, :1300] = 0
    _paint(canvas, alpha, handle, _column_fill(handle, (214, 120, 96), 1300, 1700))

    body = np.zeros((n, n), np.uint8)
    cv2.rectangle(body, (620, 700), (1380, 1600), 255, -1)
    cv2.ellipse(body, (1000, 1600), (380, 70), 0, 0, 180, 255, -1)
    _paint(canvas, alpha, body, _column_fill(body, (222, 128, 104), 620, 1380))

    rim = np.zeros((n, n), np.uint8)
    cv2.ellipse(rim, (1000, 700), (380, 70), 0, 0, 360, 255, -1)
    _paint(canvas, alpha, rim, np.full((n, n, 3), (120, 64, 52), np.float32))
    cv2.ellipse(canvas, (1000, 700), (380, 70), 0, 0, 360, (240, 200, 186), 12)
    return _finish(canvas, alpha)


SAMPLES = {
    "Amber Serum Bottle": serum_bottle,
    "Indigo Cotton T-Shirt": tshirt,
    "Terracotta Mug": mug,
}


def on_backdrop(rgba: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """The product as a phone photo: on a lit, textured backdrop, as RGB."""
    height, width = rgba.shape[:2]
    rng = np.random.default_rng(seed)
    yy = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    backdrop = np.array([214, 206, 196], np.float32) * (1.05 - 0.25 * yy)
    grain = cv2.GaussianBlur(rng.normal(0, 9, (height, width, 3)).astype(np.float32),
                             (0, 0), 2.0)
    backdrop = np.broadcast_to(backdrop, (height, width, 3)) + grain

    a = rgba[..., 3:4].astype(np.float32) / 255.0
    photo = rgba[..., :3].astype(np.float32) * a + backdrop * (1 - a)
    return photo.clip(0, 255).astype(np.uint8)
