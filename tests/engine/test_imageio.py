"""Image input validation and encoding: every bad upload is named, odd modes
are converted to what the rest of the engine expects."""

from __future__ import annotations

import io
import struct
import time
import zlib

import numpy as np
import pytest
from helpers import draw_product, photograph
from PIL import Image, JpegImagePlugin

from lightbox.engine.imageio import (
    as_rgb,
    as_rgba,
    encode_jpeg,
    encode_png,
    encode_webp,
    fit_within,
    image_info,
    load_image,
)
from lightbox.engine.types import EngineError


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def _png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG whose header claims ``width``x``height`` RGB pixels but
    whose data is a few bytes: what a decompression bomb looks like to a parser."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return photograph(draw_product(96, seed=1, kind="bottle"), "noisy", seed=1)


class TestAccepted:
    def test_jpeg_png_webp_round_trip(self, photo):
        for fmt, tol in (("JPEG", 12), ("PNG", 0), ("WEBP", 14)):
            data = _encode(Image.fromarray(photo), fmt, quality=95)
            out = load_image(data)
            assert out.shape == photo.shape and out.dtype == np.uint8
            assert np.abs(out.astype(int) - photo).mean() <= tol, fmt

    def test_path_and_pil_and_array_sources(self, photo, tmp_path):
        path = tmp_path / "p.png"
        path.write_bytes(_encode(Image.fromarray(photo), "PNG"))
        assert np.array_equal(load_image(path), photo)
        assert np.array_equal(load_image(str(path)), photo)
        assert np.array_equal(load_image(Image.fromarray(photo)), photo)
        assert np.array_equal(load_image(photo), photo)

    def test_opaque_alpha_is_dropped_and_real_alpha_kept(self, photo):
        opaque = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
        assert load_image(_encode(Image.fromarray(opaque), "PNG")).shape[2] == 3

        product = draw_product(64, seed=2, kind="mug")
        out = load_image(_encode(Image.fromarray(product), "PNG"))
        assert out.shape[2] == 4
        assert np.array_equal(out[..., 3], product[..., 3])

    def test_cmyk_jpeg_is_converted_to_rgb(self):
        cmyk = Image.new("CMYK", (40, 30), (0, 255, 255, 0))  # pure red in CMYK
        out = load_image(_encode(cmyk, "JPEG", quality=95))
        assert out.shape == (30, 40, 3)
        r, g, b = out.reshape(-1, 3).mean(axis=0)
        assert r > 230 and g < 25 and b < 25

    def test_16_bit_grayscale_png_is_scaled_not_clipped(self):
        ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (20, 1))
        out = load_image(_encode(Image.fromarray(ramp), "PNG"))
        assert out.shape == (20, 64, 3)
        assert out[0, 0, 0] == 0 and out[0, -1, 0] == 255
        assert abs(int(out[0, 32, 0]) - round(ramp[0, 32] / 257)) <= 1

    def test_16_bit_array_and_float_array(self):
        arr16 = np.full((20, 20, 3), 32896, np.uint16)  # 128 * 257
        assert load_image(arr16)[0, 0].tolist() == [128, 128, 128]
        arrf = np.full((20, 20), 0.5, np.float32)
        assert load_image(arrf)[0, 0].tolist() == [128, 128, 128]

    def test_palette_with_transparency_and_gray_alpha(self):
        rgba = np.zeros((24, 24, 4), np.uint8)
        rgba[4:20, 4:20] = (250, 10, 10, 255)
        pal = Image.fromarray(rgba).quantize(colors=4, method=Image.Quantize.FASTOCTREE)
        out = load_image(_encode(pal, "PNG"))
        assert out.shape[2] == 4 and out[0, 0, 3] == 0 and out[10, 10, 3] == 255
        assert out[10, 10, 0] > 200

        la = Image.fromarray(
            np.dstack(
                [np.full((20, 20), 90, np.uint8), np.full((20, 20), 100, np.uint8)]
            ),
            "LA",
        )
        out = load_image(_encode(la, "PNG"))
        assert out.shape == (20, 20, 4) and out[0, 0].tolist() == [90, 90, 90, 100]

    def test_grayscale_becomes_rgb(self):
        out = load_image(_encode(Image.new("L", (20, 20), 77), "PNG"))
        assert out.shape == (20, 20, 3) and (out == 77).all()

    def test_exif_orientation_is_applied(self):
        # A wide picture, red on the left, stored with "rotate 90 CW to display".
        img = np.zeros((20, 40, 3), np.uint8)
        img[:, :20] = (255, 0, 0)
        img[:, 20:] = (0, 0, 255)
        exif = Image.Exif()
        exif[0x0112] = 6
        out = load_image(_encode(Image.fromarray(img), "JPEG", exif=exif, quality=95))
        assert out.shape == (40, 20, 3)
        assert out[5, 10, 0] > 200 and out[35, 10, 2] > 200  # red now on top


class TestRejected:
    @pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
    def test_truncated_file(self, photo, fmt):
        data = _encode(Image.fromarray(photo), fmt)
        with pytest.raises(EngineError, match=f"truncated or corrupt {fmt}"):
            load_image(data[: len(data) // 2])

    def test_corrupt_header(self, photo):
        data = bytearray(_encode(Image.fromarray(photo), "PNG"))
        data[16:24] = b"\xff" * 8  # IHDR width/height garbage, CRC now wrong
        with pytest.raises(EngineError, match="PNG"):
            load_image(bytes(data))

    def test_one_pixel(self):
        with pytest.raises(
            EngineError, match=r"image too small: 1x1 \(minimum 16x16\)"
        ):
            load_image(_encode(Image.new("RGB", (1, 1)), "PNG"))

    def test_huge_header_is_refused_before_decoding(self):
        bomb = _png_claiming(100_000, 100_000)
        start = time.perf_counter()
        with pytest.raises(EngineError, match="image too large: 100000x100000"):
            load_image(bomb)
        with pytest.raises(EngineError, match="image too large"):
            image_info(bomb)
        assert time.perf_counter() - start < 0.1

    def test_max_pixels_is_the_callers_limit(self, photo):
        data = _encode(Image.fromarray(photo), "PNG")
        with pytest.raises(EngineError, match="maximum 0.0"):
            load_image(data, max_pixels=1000)

    def test_text_file(self):
        with pytest.raises(EngineError, match="not an image: the data is text"):
            load_image(b"name,price\nmug,12.50\n" * 10)

    def test_empty_and_random_bytes(self):
        with pytest.raises(EngineError, match="empty"):
            load_image(b"")
        rng = np.random.default_rng(3)
        with pytest.raises(EngineError, match="not an image: unrecognised data"):
            load_image(b"\x00\x9f" + rng.integers(0, 256, 200, np.uint8).tobytes())

    @pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
    def test_unsupported_format_is_named(self, photo, fmt):
        data = _encode(Image.fromarray(photo), fmt)
        with pytest.raises(
            EngineError,
            match=f"unsupported image format {fmt} "
            r"\(accepted: JPEG, PNG, WebP\)",
        ):
            load_image(data)

    def test_missing_file(self, tmp_path):
        with pytest.raises(EngineError, match="cannot read image file"):
            load_image(tmp_path / "nope.png")


def test_multi_picture_jpeg_is_a_jpeg():
    # Phones save MPO (several JPEGs in one file); the first picture is the photo.
    first = Image.new("RGB", (40, 30), (10, 200, 10))
    second = Image.new("RGB", (40, 30), (200, 10, 10))
    data = _encode(first, "MPO", save_all=True, append_images=[second])
    assert image_info(data) == ("JPEG", 40, 30)
    assert load_image(data)[..., 1].mean() > 180


def test_image_info_reads_the_header(photo):
    assert image_info(_encode(Image.fromarray(photo), "WEBP")) == ("WEBP", 96, 96)
    assert image_info(_encode(Image.fromarray(photo), "JPEG")) == ("JPEG", 96, 96)


class TestHelpers:
    def test_as_rgb_flattens_alpha_onto_white(self):
        rgba = np.zeros((2, 2, 4), np.uint8)
        rgba[0, 0] = (0, 0, 0, 255)
        rgba[0, 1] = (200, 0, 0, 0)  # hidden colour must not show
        out = as_rgb(rgba)
        assert out[0, 0].tolist() == [0, 0, 0] and out[0, 1].tolist() == [255] * 3

    def test_as_rgba_adds_opaque_alpha(self):
        out = as_rgba(np.full((3, 3), 9, np.uint8))
        assert out.shape == (3, 3, 4) and (out[..., 3] == 255).all()

    def test_inputs_are_not_mutated(self, photo):
        before = photo.copy()
        as_rgb(photo), as_rgba(photo), fit_within(photo, 10), encode_png(photo)
        assert np.array_equal(photo, before)


class TestEncoders:
    def test_jpeg_is_progressive_444_and_deterministic(self, photo):
        data = encode_jpeg(photo)
        image = Image.open(io.BytesIO(data))
        assert image.info.get("progressive") or image.info.get("progression")
        assert JpegImagePlugin.get_sampling(image) == 0  # 4:4:4
        assert encode_jpeg(photo) == data
        assert np.abs(load_image(data).astype(int) - photo).mean() < 3

    def test_png_and_webp_keep_alpha(self):
        product = draw_product(48, seed=0, kind="ring")
        assert np.array_equal(load_image(encode_png(product)), product)
        back = load_image(encode_webp(product, quality=90))
        assert back.shape[2] == 4
        assert np.abs(back[..., 3].astype(int) - product[..., 3]).mean() < 2


class TestFitWithin:
    def test_downscales_long_side_and_keeps_aspect(self):
        arr = np.zeros((300, 600, 3), np.uint8)
        out = fit_within(arr, 200)
        assert out.shape == (100, 200, 3)

    def test_never_upscales(self):
        arr = np.zeros((30, 60, 3), np.uint8)
        assert fit_within(arr, 200).shape == arr.shape

    def test_rgba_hidden_colour_does_not_bleed(self):
        rgba = np.zeros((64, 64, 4), np.uint8)
        rgba[..., :3] = (0, 255, 0)  # hidden green under transparency
        rgba[:, 34:] = (255, 255, 255, 255)  # column 8 of 16 mixes both
        out = fit_within(rgba, 16)
        edge = out[:, 8]  # the column that mixes both halves
        assert (edge[:, 3] > 100).all() and (edge[:, 3] < 160).all()
        assert (edge[:, 0] > 250).all() and (edge[:, 1] > 250).all()
