"""Reading, validating and writing images.

Everything the engine receives from outside comes through ``load_image``: it
identifies the format from the first bytes, checks the header's size before any
pixel is decoded (so a 100000x100000 "decompression bomb" costs microseconds), then
decodes, applies the EXIF orientation and brings every mode Pillow can produce to
``uint8`` RGB or RGBA. Only JPEG, PNG and WebP are accepted: the formats browsers
and shop systems exchange.
"""

from __future__ import annotations

import io
import os
from typing import Union

import cv2
import numpy as np
from PIL import Image, ImageOps

from lightbox.engine.types import EngineError

ImageSource = Union[
    bytes, bytearray, memoryview, str, os.PathLike, Image.Image, np.ndarray
]

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
MIN_SIDE = 16
DEFAULT_MAX_PIXELS = 50_000_000

# Enough bytes for every Pillow format's magic-number test.
_HEAD_BYTES = 64


def _display(fmt: str) -> str:
    return {"WEBP": "WebP"}.get(fmt, fmt)


def _sniff(head: bytes) -> str | None:
    """The Pillow format whose magic number ``head`` starts with, or None."""
    Image.init()

    # Accepted formats first, so a permissive foreign test cannot shadow them.
    order = list(ACCEPTED_FORMATS) + [f for f in Image.ID if f not in ACCEPTED_FORMATS]
    for fmt in order:
        factory, accept = Image.OPEN.get(fmt, (None, None))
        if factory is None or accept is None:
            continue
        try:
            if accept(head):
                return fmt
        except Exception:  # a plugin's test choking on odd bytes is "not this one"
            continue
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        return "HEIC"
    return None


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.95 * max(len(text), 1)


def _read_bytes(data: bytes | bytearray | memoryview | str | os.PathLike) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    try:
        with open(data, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise EngineError(
            f"cannot read image file {os.fspath(data)!r}: {exc.strerror or exc}"
        ) from exc


def _identify(blob: bytes) -> str:
    """The accepted format of ``blob``; EngineError naming what it is otherwise."""
    if not blob:
        raise EngineError("not an image: the data is empty")

    head = blob[:_HEAD_BYTES]
    fmt = _sniff(head)
    if fmt in ACCEPTED_FORMATS:
        return fmt
    if fmt is not None:
        raise EngineError(f"unsupported image format {fmt} (accepted: JPEG, PNG, WebP)")

    if _looks_like_text(blob[:512]):
        if b"<svg" in blob[:1024].lower():
            raise EngineError(
                "unsupported image format SVG (accepted: JPEG, PNG, WebP)"
            )
        preview = blob[:24].decode("utf-8", "replace").strip().replace("\n", " ")
        raise EngineError(f"not an image: the data is text ({preview!r}...)")
    raise EngineError(
        f"not an image: unrecognised data starting with {head[:8].hex(' ')}"
    )


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width < MIN_SIDE or height < MIN_SIDE:
        raise EngineError(
            f"image too small: {width}x{height} (minimum {MIN_SIDE}x{MIN_SIDE})"
        )
    if width * height > max_pixels:
        raise EngineError(
            f"image too large: {width}x{height} is {width * height / 1e6:.1f} "
            f"megapixels (maximum {max_pixels / 1e6:.1f})"
        )


def _open_header(blob: bytes, max_pixels: int) -> Image.Image:
    """Parse the header only, through the format's own plugin.

    ``Image.open`` would run Pillow's global decompression-bomb check, whose limit
    is process-wide state and whose small overruns are only a warning; calling the
    plugin directly makes ``max_pixels`` the one limit, checked before decoding.
    """
    fmt = _identify(blob)
    factory, _ = Image.OPEN[fmt]
    try:
        image = factory(io.BytesIO(blob), None)
    except Exception as exc:
        raise EngineError(f"corrupt {_display(fmt)} file: {exc}") from exc
    width, height = image.size
    _check_size(width, height, max_pixels)
    return image


def image_info(
    data: bytes | str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[str, int, int]:
    """``(format, width, height)`` from the header, without decoding pixels.

    The format is Pillow's name: "JPEG", "PNG" or "WEBP". Runs the same format and
    size checks as ``load_image`` (EngineError otherwise), so an upload can be
    refused before it is stored; a corrupt pixel stream is only found by decoding.
    """
    image = _open_header(_read_bytes(data), max_pixels)
    # Phones write multi-picture JPEGs; Pillow names them MPO, browsers see JPEG.
    fmt = "JPEG" if image.format == "MPO" else image.format or ""
    return fmt, image.width, image.height


def _from_pil(image: Image.Image) -> np.ndarray:
    """Any Pillow mode to a uint8 HxWx3/4 array (alpha kept when present)."""
    mode = image.mode
    if mode in ("RGB", "RGBA"):
        return np.asarray(image)
    if mode == "P":
        has_alpha = "transparency" in image.info or image.palette.mode == "RGBA"
        return np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
    if mode in ("LA", "PA", "La", "RGBa"):
        return np.asarray(image.convert("RGBA"))
    if mode.startswith("I") or mode == "F":
        # Pillow's I->L conversion clips at 255 instead of scaling; a 16-bit PNG
        # would come out white. Scale by the container's range ourselves.
        return _to_uint8(np.asarray(image))
    # 1, L, CMYK, YCbCr, LAB, HSV: Pillow's conversions are right for these.
    # Limitation: CMYK is converted without its ICC profile (naive inversion), so
    # colours can shift; ImageCms with the embedded profile would fix it.
    return np.asarray(image.convert("RGB"))


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """Scale an array of any numeric dtype to uint8 with its natural range."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype == np.uint16 or (arr.dtype.kind in "iu" and arr.max(initial=0) > 255):
        # 16-bit data (a 16-bit PNG arrives as int32 mode "I"): /257 maps
        # 65535 to 255 exactly.
        scaled = np.clip(arr.astype(np.float32), 0, 65535) / 257.0
        return np.round(scaled).astype(np.uint8)
    if arr.dtype.kind in "iu":
        return np.clip(arr, 0, 255).astype(np.uint8)
    if arr.dtype.kind == "f":
        finite = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        # Floats are [0, 1] by convention; [0, 255] floats are common too.
        scale = 255.0 if finite.max(initial=0.0) <= 1.0 else 1.0
        return np.round(np.clip(finite * scale, 0, 255)).astype(np.uint8)
    raise EngineError(f"unsupported array dtype {arr.dtype}")


def _channels(arr: np.ndarray) -> np.ndarray:
    """A uint8 array of shape HxW, HxWx1..4 to HxWx3 or HxWx4."""
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise EngineError(
            f"unsupported image array shape {arr.shape} (expected HxW, HxWx3 or HxWx4)"
        )
    c = arr.shape[2]
    if c == 1:
        return np.repeat(arr, 3, axis=2)
    if c == 2:
        return np.dstack([np.repeat(arr[..., :1], 3, axis=2), arr[..., 1:]])
    return arr


def _drop_opaque_alpha(arr: np.ndarray) -> np.ndarray:
    if arr.shape[2] == 4 and arr[..., 3].min() == 255:
        return arr[..., :3]
    return arr


def load_image(
    data: ImageSource, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Decode and validate an image into uint8 RGB, or RGBA if its alpha is real.

    Accepts encoded bytes, a path, a Pillow image or an array. Raises EngineError
    naming the problem for empty, text, truncated or corrupt data, formats other
    than JPEG/PNG/WebP, images under 16 px on a side and images over
    ``max_pixels`` (checked from the header, before decoding).
    """
    if isinstance(data, np.ndarray):
        arr = _drop_opaque_alpha(_channels(_to_uint8(np.asarray(data))))
        _check_size(arr.shape[1], arr.shape[0], max_pixels)
        return np.ascontiguousarray(arr).copy()

    if isinstance(data, Image.Image):
        _check_size(data.width, data.height, max_pixels)
        image = data
        fmt = data.format or "image"
    else:
        image = _open_header(_read_bytes(data), max_pixels)
        fmt = _display("JPEG" if image.format == "MPO" else image.format or "image")
        try:
            image.load()
        except Exception as exc:
            # Truncated streams, bad CRCs, broken zlib/Huffman data all land here.
            raise EngineError(f"truncated or corrupt {fmt} file: {exc}") from exc

    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a malformed EXIF block should not cost the picture
        pass
    arr = _drop_opaque_alpha(_channels(_from_pil(image)))
    return np.ascontiguousarray(arr).copy()


def as_rgb(
    arr: np.ndarray, *, background: tuple[int, int, int] = (255, 255, 255)
) -> np.ndarray:
    """Any image array as uint8 RGB; an alpha channel is flattened onto
    ``background`` (white by default) rather than dropped, so that transparent
    pixels' hidden colours never show."""
    out = _channels(_to_uint8(np.asarray(arr)))
    if out.shape[2] == 3:
        return out
    alpha = out[..., 3:4].astype(np.float32) / 255.0
    bg = np.asarray(background, np.float32)
    flat = out[..., :3].astype(np.float32) * alpha + bg * (1.0 - alpha)
    return np.round(flat).astype(np.uint8)


def as_rgba(arr: np.ndarray) -> np.ndarray:
    """Any image array as uint8 RGBA (opaque where it had no alpha)."""
    out = _channels(_to_uint8(np.asarray(arr)))
    if out.shape[2] == 4:
        return out
    opaque = np.full(out.shape[:2] + (1,), 255, np.uint8)
    return np.concatenate([out, opaque], axis=2)


def _pil(arr: np.ndarray) -> Image.Image:
    out = _channels(_to_uint8(np.asarray(arr)))
    return Image.fromarray(
        np.ascontiguousarray(out), "RGBA" if out.shape[2] == 4 else "RGB"
    )


def encode_jpeg(rgb: np.ndarray, *, quality: int = 92) -> bytes:
    """Progressive JPEG with 4:4:4 chroma: e-commerce edges and small coloured
    text stay sharp. RGBA is flattened onto white first."""
    buf = io.BytesIO()
    Image.fromarray(as_rgb(rgb)).save(
        buf,
        "JPEG",
        quality=int(quality),
        progressive=True,
        subsampling=0,
        optimize=True,
    )
    return buf.getvalue()


def encode_png(arr: np.ndarray, *, compress_level: int = 6) -> bytes:
    buf = io.BytesIO()
    _pil(arr).save(buf, "PNG", compress_level=int(compress_level))
    return buf.getvalue()


def encode_webp(arr: np.ndarray, *, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    _pil(arr).save(buf, "WEBP", quality=int(quality), method=4)
    return buf.getvalue()


def fit_within(arr: np.ndarray, long_side: int) -> np.ndarray:
    """Downscale so the longer side is at most ``long_side``; never upscales.

    Uses area averaging (no aliasing on thumbnails). RGBA is averaged with
    premultiplied colour, so transparent pixels' hidden colours cannot bleed into
    the product's edge.
    """
    if long_side < 1:
        raise EngineError(f"long_side must be at least 1, got {long_side}")
    height, width = arr.shape[:2]
    scale = long_side / max(height, width)
    if scale >= 1.0:
        return arr.copy()

    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if arr.ndim == 3 and arr.shape[2] == 4:
        alpha = arr[..., 3:4].astype(np.float32) / 255.0
        pre = np.concatenate([arr[..., :3] * alpha, arr[..., 3:4]], axis=2)
        small = cv2.resize(pre.astype(np.float32), size, interpolation=cv2.INTER_AREA)
        a = small[..., 3:4] / 255.0
        rgb = np.where(a > 1e-4, small[..., :3] / np.maximum(a, 1e-4), 0.0)
        out = np.concatenate([rgb, small[..., 3:4]], axis=2)
        return np.round(np.clip(out, 0, 255)).astype(np.uint8)
    return cv2.resize(arr, size, interpolation=cv2.INTER_AREA)
