"""store_image / load_image: the files a stored image becomes, decoded back."""

from __future__ import annotations

import io

import numpy as np
import pytest
from factories import product_image
from PIL import Image

from lightbox.media import renditions
from lightbox.media.storage import LocalStorage


@pytest.fixture
def storage(tmp_path) -> LocalStorage:
    return LocalStorage(tmp_path, base_url="http://h", secret_key="k" * 32,
                        default_ttl=3600)


def photo(size=(1600, 1200)) -> np.ndarray:
    return np.asarray(product_image(size, color=(30, 90, 200)))


def decoded(storage, key) -> Image.Image:
    image = Image.open(io.BytesIO(storage.get(key)))
    image.load()
    return image


class TestStoreImage:
    def test_rgb_becomes_a_jpeg_and_a_640px_thumbnail(self, storage):
        image = photo((1600, 1200))
        stored = renditions.store_image(storage, prefix="teams/t/records/img_1/image",
                                        image=image)

        assert stored == renditions.StoredImage(
            key="teams/t/records/img_1/image.jpg",
            thumb_key="teams/t/records/img_1/image.thumb.jpg",
            width=1600, height=1200,
        )
        full = decoded(storage, stored.key)
        thumb = decoded(storage, stored.thumb_key)
        assert (full.format, full.size) == ("JPEG", (1600, 1200))
        assert (thumb.format, thumb.size) == ("JPEG", (640, 480))

        # Real pixels survive: the blue product's centre and the grey backdrop.
        back = np.asarray(full).astype(int)
        assert np.abs(back - image.astype(int)).mean() < 3
        small = np.asarray(thumb).astype(int)
        assert small[int(480 * 0.75), 320, 2] > 150  # inside the body, blue

    def test_alpha_becomes_a_png_that_keeps_it(self, storage):
        rgba = np.asarray(product_image((500, 400), alpha=True))
        stored = renditions.store_image(storage, prefix="p/cutout", image=rgba,
                                        alpha=True)

        assert stored.key == "p/cutout.png"
        full = decoded(storage, stored.key)
        assert full.mode == "RGBA"
        assert np.array_equal(np.asarray(full), rgba)

        # The thumbnail is a JPEG on white: transparent corners are white.
        thumb = np.asarray(decoded(storage, stored.thumb_key))
        assert thumb.shape == (400, 500, 3)  # already under 640: not upscaled
        assert thumb[5, 5].min() > 245

    def test_rgba_without_alpha_flag_is_flattened_to_jpeg(self, storage):
        rgba = np.asarray(product_image((300, 300), alpha=True))
        stored = renditions.store_image(storage, prefix="p/flat", image=rgba)

        full = decoded(storage, stored.key)
        assert (full.format, full.mode) == ("JPEG", "RGB")
        assert np.asarray(full)[3, 3].min() > 245

    def test_same_input_same_bytes(self, storage):
        image = photo((800, 600))
        a = renditions.store_image(storage, prefix="x/a", image=image)
        b = renditions.store_image(storage, prefix="x/b", image=image)
        assert storage.get(a.key) == storage.get(b.key)
        assert storage.get(a.thumb_key) == storage.get(b.thumb_key)

    def test_input_is_not_mutated(self, storage):
        image = np.asarray(product_image((300, 200), alpha=True)).copy()
        before = image.copy()
        renditions.store_image(storage, prefix="x/c", image=image, alpha=True)
        assert np.array_equal(image, before)

    @pytest.mark.parametrize("shape", [(10, 10), (10, 10, 2), (10, 10, 5)])
    def test_bad_shapes_are_refused(self, storage, shape):
        with pytest.raises(ValueError, match="HxWx3 or HxWx4"):
            renditions.store_image(storage, prefix="x/bad",
                                   image=np.zeros(shape, np.uint8))


class TestLoadImage:
    def test_round_trip_rgba(self, storage):
        rgba = np.asarray(product_image((200, 300), alpha=True))
        stored = renditions.store_image(storage, prefix="r/a", image=rgba, alpha=True)
        assert np.array_equal(renditions.load_image(storage, stored.key), rgba)

    def test_store_bytes_returns_the_key(self, storage):
        key = renditions.store_bytes(storage, "r/raw.png", b"\x89PNG", "image/png")
        assert key == "r/raw.png"
        assert storage.get(key) == b"\x89PNG"
