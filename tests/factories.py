"""Real images made on the spot: a drawn product photographed on a backdrop."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def product_image(size: tuple[int, int] = (640, 640), *, seed: int = 0,
                  color: tuple[int, int, int] = (200, 40, 40),
                  alpha: bool = False) -> Image.Image:
    """A bottle-like product centred on a noisy grey backdrop (or transparent)."""
    width, height = size
    rng = np.random.default_rng(seed)
    backdrop = rng.normal(180, 18, (height, width, 3)).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(backdrop).filter(ImageFilter.GaussianBlur(1.5))
    mask = Image.new("L", size, 0)

    draw = ImageDraw.Draw(mask)
    body = (width * 0.35, height * 0.3, width * 0.65, height * 0.85)
    neck = (width * 0.45, height * 0.15, width * 0.55, height * 0.32)
    draw.rounded_rectangle(body, radius=int(width * 0.05), fill=255)
    draw.rectangle(neck, fill=255)

    product = Image.new("RGB", size, color)
    shade = ImageDraw.Draw(product)
    shade.rectangle((width * 0.38, height * 0.3, width * 0.42, height * 0.85),
                    fill=tuple(min(255, c + 60) for c in color))
    shade.rectangle((width * 0.35, height * 0.5, width * 0.65, height * 0.62),
                    fill=(240, 235, 220))
    image.paste(product, (0, 0), mask)

    if alpha:
        image = image.convert("RGBA")
        image.putalpha(mask)
    return image


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (640, 640), *,
                seed: int = 0, alpha: bool = False, **kwargs) -> bytes:
    image = product_image(size, seed=seed, alpha=alpha, **kwargs)
    if fmt.upper() == "JPEG" and image.mode == "RGBA":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt.upper())
    return buffer.getvalue()
