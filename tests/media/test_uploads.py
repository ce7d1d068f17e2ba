"""read_upload: byte cap, header probe, decoding, and the 400/413/415 it raises."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from factories import image_bytes
from media.hostile import (
    TEXT_AS_JPEG,
    alpha_png,
    cmyk_jpeg,
    exif_rotated_jpeg,
    gif,
    opaque_rgba_png,
    png16,
    png_bomb,
    truncated_jpeg,
)
from starlette.datastructures import UploadFile

from lightbox.engine.types import EngineError
from lightbox.errors import BadRequest, PayloadTooLarge, UnsupportedMedia
from lightbox.media.uploads import (
    clean_name,
    default_name,
    describe_size,
    engine_error_to_http,
    read_upload,
)

MB = 1024 * 1024


def upload(data: bytes, filename: str = "photo.jpg") -> UploadFile:
    return UploadFile(file=io.BytesIO(data), filename=filename)


def read(data: bytes, *, max_bytes: int = 25 * MB, max_pixels: int = 50_000_000,
         filename: str = "photo.jpg"):
    return read_upload(upload(data, filename), field="file", max_bytes=max_bytes,
                       max_pixels=max_pixels)


class CountingStream(io.RawIOBase):
    """An endless stream of zero bytes that counts what was read from it."""

    def __init__(self) -> None:
        self.delivered = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            raise AssertionError("read() without a size would read it all")
        self.delivered += n
        return b"\x00" * n

    def seek(self, *_args) -> int:
        return 0


class TestAccepted:
    @pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
    def test_formats(self, fmt):
        data = image_bytes(fmt, (320, 240))
        result = read(data)

        assert result.format == fmt
        assert (result.width, result.height) == (320, 240)
        assert result.image.shape == (240, 320, 3)
        assert result.image.dtype == np.uint8
        assert result.data == data  # kept exactly as sent
        assert not result.has_alpha

    def test_png_alpha_is_kept_as_the_cutout(self):
        result = read(alpha_png((400, 400)), filename="bottle.png")

        assert result.has_alpha
        alpha = result.image[..., 3]
        # factories draws the bottle's body over x 35%..65%, y 30%..85%.
        assert alpha[200, 200] == 255
        assert alpha[20, 20] == 0
        assert result.content_type == "image/png"
        assert result.extension == ".png"

    def test_opaque_alpha_channel_is_not_a_cutout(self):
        assert not read(opaque_rgba_png()).has_alpha

    def test_exif_orientation_is_applied(self):
        result = read(exif_rotated_jpeg((600, 400), orientation=6))

        assert (result.width, result.height) == (400, 600)
        assert result.image.shape == (600, 400, 3)
        # The red band of the stored top edge is on the right once upright.
        right, left = result.image[300, -10], result.image[300, 10]
        assert right[0] > 180 and right[1] < 80
        assert abs(int(left[0]) - 200) < 15

    def test_cmyk_jpeg_becomes_rgb(self):
        result = read(cmyk_jpeg((320, 240)))

        assert result.image.shape == (240, 320, 3)
        cyan = result.image[120, 40].astype(int)
        yellow = result.image[120, 280].astype(int)
        assert cyan[0] < 60 and cyan[1] > 200 and cyan[2] > 200
        assert yellow[0] > 200 and yellow[1] > 200 and yellow[2] < 60

    def test_16_bit_png_is_scaled_not_clipped(self):
        result = read(png16((300, 200)), filename="ramp.png")

        row = result.image[100, :, 0].astype(int)
        assert row[0] <= 1 and row[-1] >= 254
        assert 120 <= row[150] <= 135  # mid-grey, not white
        assert np.all(np.diff(row) >= 0)


class TestRefused:
    def test_missing_file_is_400(self):
        with pytest.raises(BadRequest, match=r"^file: required$"):
            read_upload(None, field="file", max_bytes=MB, max_pixels=10**6)

    def test_a_plain_string_is_not_a_file(self):
        with pytest.raises(BadRequest, match=r"^file: required$"):
            read_upload("hello", field="file", max_bytes=MB, max_pixels=10**6)

    def test_empty_file(self):
        with pytest.raises(UnsupportedMedia, match=r"^file: not an image"):
            read(b"")

    def test_text_named_jpg(self):
        with pytest.raises(UnsupportedMedia) as info:
            read(TEXT_AS_JPEG, filename="photo.jpg")
        assert info.value.message.startswith("file: not an image: the data is text")

    def test_truncated_jpeg(self):
        with pytest.raises(UnsupportedMedia) as info:
            read(truncated_jpeg())
        assert info.value.message.startswith("file: truncated or corrupt JPEG")

    def test_gif_is_an_unsupported_format(self):
        with pytest.raises(UnsupportedMedia) as info:
            read(gif(), filename="anim.gif")
        assert info.value.message == (
            "file: unsupported image format GIF (accepted: JPEG, PNG, WebP)"
        )

    def test_too_small(self):
        with pytest.raises(UnsupportedMedia, match=r"^file: image too small: 8x8"):
            read(image_bytes("PNG", (8, 8)))

    def test_decompression_bomb_is_413_from_the_header_alone(self):
        bomb = png_bomb(100_000, 100_000)
        started = time.perf_counter()
        with pytest.raises(PayloadTooLarge) as info:
            read(bomb, filename="bomb.png")
        elapsed = time.perf_counter() - started

        assert info.value.message.startswith(
            "file: image too large: 100000x100000 is 10000.0 megapixels"
        )
        assert elapsed < 0.05

    def test_pixel_cap_is_the_settings_value(self):
        data = image_bytes("JPEG", (400, 300))
        assert read(data, max_pixels=120_000).width == 400
        with pytest.raises(PayloadTooLarge, match="image too large: 400x300"):
            read(data, max_pixels=119_999)

    def test_byte_cap_message(self):
        with pytest.raises(PayloadTooLarge) as info:
            read(b"\x00" * (25 * MB + 1))
        assert info.value.message == "file: upload too large (max 25 MB)"

    def test_byte_cap_reads_at_most_one_byte_past_the_limit(self):
        stream = CountingStream()
        fake = UploadFile(file=stream, filename="huge.jpg")

        with pytest.raises(PayloadTooLarge):
            read_upload(fake, field="file", max_bytes=3 * MB + 5, max_pixels=10**6)
        assert stream.delivered == 3 * MB + 6

    def test_exactly_at_the_cap_is_accepted(self):
        data = image_bytes("PNG", (64, 64))
        assert read(data, max_bytes=len(data)).width == 64
        with pytest.raises(PayloadTooLarge):
            read(data, max_bytes=len(data) - 1)

    def test_field_name_is_in_every_message(self):
        with pytest.raises(UnsupportedMedia, match=r"^cover: not an image"):
            read_upload(upload(TEXT_AS_JPEG), field="cover", max_bytes=MB,
                        max_pixels=10**6)


class TestErrorMapping:
    @pytest.mark.parametrize("message,status", [
        ("image too large: 9000x9000 is 81.0 megapixels (maximum 50.0)", 413),
        ("decompression bomb suspected", 413),
        ("image too small: 8x8 (minimum 16x16)", 415),
        ("truncated or corrupt JPEG file: broken data stream", 415),
        ("unsupported image format GIF (accepted: JPEG, PNG, WebP)", 415),
    ])
    def test_by_message(self, message, status):
        error = engine_error_to_http(EngineError(message), field="file")
        assert error.status_code == status
        assert error.message == f"file: {message}"

    def test_an_explicit_attribute_wins(self):
        error = EngineError("some new wording")
        error.too_large = True
        assert engine_error_to_http(error, field="file").status_code == 413


class TestNames:
    @pytest.mark.parametrize("filename,expected", [
        ("White T-Shirt.jpg", "White T-Shirt"),
        ("  spaced   out .png ", "spaced out"),
        ("C:\\Users\\me\\shoe.final.JPG", "shoe.final"),
        ("dir/sub/bag.webp", "bag"),
        (".jpg", ".jpg"),
        ("", "Product"),
        (None, "Product"),
    ])
    def test_default_name(self, filename, expected):
        assert default_name(filename, fallback="Product") == expected

    def test_clean_name_trims_and_caps(self):
        assert clean_name("  a\n b\t c  ") == "a b c"
        assert clean_name("x" * 300) == "x" * 200

    @pytest.mark.parametrize("n,text", [
        (25 * MB, "25 MB"), (1536 * 1024, "1.5 MB"), (2048, "2 KB"), (500, "500 bytes"),
    ])
    def test_describe_size(self, n, text):
        assert describe_size(n) == text
