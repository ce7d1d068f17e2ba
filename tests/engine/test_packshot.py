"""Packshots: the product's pixels survive, the backdrop is exactly the asked-for
colour, margins hold, variants differ in ways a shop would notice."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import draw_product

from lightbox.engine.cutout import trim
from lightbox.engine.packshot import (
    SOFT_GREY,
    VARIANTS,
    WARM_WHITE,
    packshot_options,
    render_packshot,
)
from lightbox.engine.types import EngineError, PackshotOptions

WHITE = (255, 255, 255)
SMALL = PackshotOptions(size=(600, 600))
BARE = PackshotOptions(size=(600, 600), shadow="none")  # product pixels only


@pytest.fixture(scope="module")
def bottle() -> np.ndarray:
    return trim(draw_product(400, seed=0, kind="bottle"))


def _foreground_box(img: np.ndarray, bg, tol: int = 40):
    """Box (x0, y0, x1, y1) of pixels far from the background: the product."""
    diff = np.abs(img[..., :3].astype(int) - np.array(bg)).max(axis=2)
    ys, xs = np.nonzero(diff > tol)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


def _strip_below(img: np.ndarray, box, rows: int = 6) -> np.ndarray:
    x0, _, x1, y1 = box
    mid = (x0 + x1) // 2
    half = (x1 - x0) // 4
    return img[y1 + 1 : y1 + 1 + rows, mid - half : mid + half, :3].astype(float)


class TestLayout:
    def test_product_pixels_survive_unscaled(self):
        # 480 px tall in a 600 px canvas with 10% margins: scale is exactly 1.
        product = trim(draw_product(700, seed=1, kind="bottle"))
        product = product[:480] if product.shape[0] >= 480 else product
        product = cv2.resize(
            product, (product.shape[1], 480), interpolation=cv2.INTER_NEAREST
        )
        out = render_packshot(product, options=BARE)
        x0 = 60 + (480 - product.shape[1]) // 2
        placed = out[60:540, x0 : x0 + product.shape[1]].astype(int)
        inner = cv2.erode(
            (product[..., 3] == 255).astype(np.uint8), np.ones((3, 3), np.uint8)
        ).astype(bool)
        assert np.abs(placed[inner] - product[..., :3][inner]).max() <= 1

    def test_product_colours_survive_upscaling(self, bottle):
        out = render_packshot(bottle, options=PackshotOptions(shadow="none"))
        box = _foreground_box(out, (255, 255, 255))
        scaled = cv2.resize(
            bottle, (box[2] - box[0], box[3] - box[1]), interpolation=cv2.INTER_LINEAR
        )
        inner = cv2.erode(
            (scaled[..., 3] == 255).astype(np.uint8), np.ones((9, 9), np.uint8)
        ).astype(bool)
        placed = out[box[1] : box[3], box[0] : box[2]].astype(int)
        diff = np.abs(placed[inner] - scaled[..., :3][inner].astype(int))
        assert diff.mean() < 2 and np.percentile(diff, 99) <= 12

    def test_background_is_exact_away_from_the_product(self, bottle):
        out = render_packshot(bottle)
        assert out.shape == (2000, 2000, 3) and out.dtype == np.uint8
        for strip in (out[:150], out[:, :150], out[:, -150:], out[-60:]):
            assert (strip == 255).all()

    def test_margins_are_respected_and_filled(self, bottle):
        for margin in (0.05, 0.1, 0.2):
            opts = PackshotOptions(size=(1000, 800), margin=margin)
            out = render_packshot(bottle, options=opts)
            m = round(margin * 800)
            # Everything that is not backdrop, shadow included, stays inside.
            x0, y0, x1, y1 = _foreground_box(out, (255, 255, 255), tol=1)
            assert x0 >= m and y0 >= m and x1 <= 1000 - m and y1 <= 800 - m
            # The tall bottle and its shadow fill the box's height.
            assert (y1 - y0) >= (800 - 2 * m) - 8

    def test_flat_base_stands_low_round_is_centred(self):
        tall = trim(draw_product(400, seed=2, kind="bottle"))
        _, _, _, y1 = _foreground_box(render_packshot(tall, options=BARE), WHITE)
        assert abs(y1 - 540) <= 1  # a tall product stands on the bottom margin

        wide = trim(draw_product(400, seed=2, kind="box"))
        _, y0, _, y1 = _foreground_box(render_packshot(wide, options=BARE), WHITE)
        above, below = y0 - 60, 540 - y1
        assert below > 10 and above > 1.8 * below  # low, but not on the edge

        ring = trim(draw_product(400, seed=2, kind="ring"))
        opts = PackshotOptions((900, 600), shadow="none")
        x0, y0, x1, y1 = _foreground_box(render_packshot(ring, options=opts), WHITE)
        assert abs(y0 - (600 - y1)) <= 3 and abs(x0 - (900 - x1)) <= 3

    def test_small_upscale_has_no_ringing(self):
        square = np.zeros((60, 60, 4), np.uint8)
        square[10:50, 10:50] = (200, 30, 40, 255)
        out = render_packshot(square, options=BARE).astype(int)
        red, white = np.array([200, 30, 40]), np.array([255, 255, 255])
        lo, hi = np.minimum(red, white) - 1, np.maximum(red, white) + 1
        product = out[60:540, 60:540]
        assert ((product >= lo) & (product <= hi)).all()

    def test_deterministic_and_input_untouched(self, bottle):
        before = bottle.copy()
        first = render_packshot(bottle, variant=1, seed=3)
        assert render_packshot(bottle, variant=1, seed=3).tobytes() == first.tobytes()
        assert np.array_equal(bottle, before)


class TestShadows:
    def test_contact_shadow_darkens_under_the_product_only(self, bottle):
        out = render_packshot(bottle, options=SMALL)
        box = _foreground_box(out, (255, 255, 255))
        assert 255 - _strip_below(out, box).mean() > 15
        assert (out[:, :60] == 255).all() and (out[-60:] == 255).all()

    def test_no_shadow_leaves_the_floor_white(self, bottle):
        opts = PackshotOptions(size=(600, 600), shadow="none")
        out = render_packshot(bottle, options=opts)
        box = _foreground_box(out, (255, 255, 255))
        assert (_strip_below(out, box, rows=20) == 255).all()

    def test_reflection_carries_the_product_colour_and_fades(self, bottle):
        opts = PackshotOptions(size=(600, 600), shadow="reflection")
        out = render_packshot(bottle, options=opts)
        x0, y0, x1, y1 = _foreground_box(out, (255, 255, 255))
        near = _strip_below(out, (x0, y0, x1, y1), rows=8).mean(axis=(0, 1))
        far = out[y1 + 60 : y1 + 70, (x0 + x1) // 2, :3].astype(float).mean(axis=0)
        assert near[2] - near[0] > 20  # bluish: the blue bottle, mirrored
        assert (255 - far).sum() < (255 - near).sum() / 3  # and fading out
        assert y1 <= 540  # the bottle still sits inside its margins

    def test_transparent_output_has_real_alpha(self, bottle):
        opts = PackshotOptions(size=(600, 600), transparent=True)
        out = render_packshot(bottle, options=opts)
        assert out.shape == (600, 600, 4)
        assert (out[:40, :, 3] == 0).all()
        ys, xs = np.nonzero(out[..., 3] == 255)
        centre = out[(ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2]
        assert centre[3] == 255 and centre[2] > 150
        shadow = out[ys.max() + 5, (xs.min() + xs.max()) // 2]
        assert 10 < shadow[3] < 200 and shadow[:3].max() < 20  # translucent black


class TestVariants:
    def test_variant_zero_is_the_base(self):
        base = PackshotOptions(size=(800, 800), margin=0.12)
        assert packshot_options(variant=0, seed=5, base=base) == base

    def test_variants_differ_visibly(self, bottle):
        renders = [
            render_packshot(bottle, options=SMALL, variant=v)
            for v in range(len(VARIANTS))
        ]
        for i in range(len(renders)):
            for j in range(i + 1, len(renders)):
                diff = np.abs(renders[i].astype(int) - renders[j]).mean()
                assert diff > 2.0, (i, j, diff)

    def test_backdrop_tones_and_shadow_switch(self, bottle):
        grey = render_packshot(bottle, options=SMALL, variant=2)
        assert grey[5, 5].tolist() == list(SOFT_GREY)
        warm = render_packshot(bottle, options=SMALL, variant=3)
        assert warm[5, 5].tolist() == list(WARM_WHITE)
        plain = render_packshot(bottle, options=SMALL, variant=4)
        box = _foreground_box(plain, (255, 255, 255))
        assert (_strip_below(plain, box) == 255).all()

    def test_variants_beyond_the_table_follow_the_seed(self):
        a = packshot_options(variant=9, seed=1)
        assert a == packshot_options(variant=9, seed=1)
        picks = {
            packshot_options(variant=v, seed=s) for v in range(6, 12) for s in range(4)
        }
        assert len(picks) > 4

    def test_a_preset_colour_is_shaded_not_replaced(self):
        base = PackshotOptions(background=(200, 120, 150))
        shades = {
            packshot_options(variant=v, seed=0, base=base).background
            for v in range(len(VARIANTS))
        }
        assert len(shades) >= 3  # the tones still tell variants apart
        for colour in shades:
            assert np.abs(np.subtract(colour, base.background)).max() <= 16


class TestGuidelines:
    @pytest.mark.parametrize(
        ("text", "field", "value"),
        [
            ("transparent PNG please", "transparent", True),
            ("no shadow", "shadow", "none"),
            ("clean, without shadows", "shadow", "none"),
            ("glossy reflection", "shadow", "reflection"),
            ("soft grey background", "background", SOFT_GREY),
            ("tight crop", "margin", 0.05),
            ("lots of negative space", "margin", 0.15),
        ],
    )
    def test_words_steer_the_options(self, text, field, value):
        assert (
            getattr(packshot_options(variant=1, seed=0, guidelines=text), field)
            == value
        )

    def test_named_colour_only_for_the_backdrop(self):
        opts = packshot_options(variant=0, seed=0, guidelines="a red dress on sage")
        assert opts.background != (255, 255, 255)
        assert opts.background[1] > opts.background[0]  # sage, not red
        opts = packshot_options(
            variant=0, seed=0, guidelines="red dress, white background"
        )
        assert opts.background == (255, 255, 255)

    def test_guidelines_reach_the_render(self, bottle):
        out = render_packshot(bottle, options=SMALL, guidelines="transparent")
        assert out.shape[2] == 4 and out[0, 0, 3] == 0


class TestRejected:
    def test_bad_margin(self, bottle):
        with pytest.raises(EngineError, match="margin"):
            render_packshot(bottle, options=PackshotOptions(margin=0.6))

    def test_empty_cutout(self):
        with pytest.raises(EngineError, match="fully transparent"):
            render_packshot(np.zeros((50, 50, 4), np.uint8))

    def test_negative_variant(self):
        with pytest.raises(EngineError, match="variant"):
            packshot_options(variant=-1, seed=0)
