"""Awkward and hostile image files, made on the spot (shared by media and catalog
tests: ``from hostile import ...``)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from factories import image_bytes, product_image
from PIL import Image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header claiming ``width`` x ``height`` with a few bytes of data.

    Decoding it would need 30 GB; only a header check can refuse it cheaply.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""))


def truncated_jpeg(size=(640, 480)) -> bytes:
    data = image_bytes("JPEG", size)
    return data[: len(data) // 2]


def cmyk_jpeg(size=(320, 240)) -> bytes:
    """Left half pure cyan ink, right half pure yellow ink."""
    width, height = size
    cmyk = np.zeros((height, width, 4), np.uint8)
    cmyk[:, : width // 2, 0] = 255
    cmyk[:, width // 2:, 2] = 255
    buf = io.BytesIO()
    Image.fromarray(cmyk, "CMYK").save(buf, "JPEG", quality=95)
    return buf.getvalue()


def png16(size=(300, 200)) -> bytes:
    """A 16-bit greyscale ramp from 0 to 65535, left to right."""
    width, height = size
    ramp = np.tile(np.linspace(0, 65535, width).astype(np.uint16), (height, 1))
    buf = io.BytesIO()
    image = Image.fromarray(ramp)
    assert image.mode == "I;16"
    image.save(buf, "PNG")
    return buf.getvalue()


def exif_rotated_jpeg(size=(600, 400), orientation: int = 6) -> bytes:
    """A landscape JPEG whose EXIF says "rotate 90" (displayed as portrait).

    The stored pixels have a red band on their top edge; shown upright (after
    orientation 6, a 90 degree clockwise turn) the band is on the right.
    """
    width, height = size
    arr = np.full((height, width, 3), 200, np.uint8)
    arr[: height // 8] = (220, 20, 20)
    image = Image.fromarray(arr)
    exif = image.getexif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


def alpha_png(size=(400, 400), *, seed=0) -> bytes:
    return image_bytes("PNG", size, seed=seed, alpha=True)


def opaque_rgba_png(size=(200, 200)) -> bytes:
    image = product_image(size).convert("RGBA")
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def gif(size=(64, 64)) -> bytes:
    buf = io.BytesIO()
    product_image(size).save(buf, "GIF")
    return buf.getvalue()


TEXT_AS_JPEG = b"Hello, this is definitely not a photo.\nJust text in a .jpg file.\n"
