"""Photo-shoot composition: the product survives, shadows fall away from the light,
industries and words steer the frame, and seeds reproduce."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from lightbox.engine.compose import render_shoot
from lightbox.engine.types import EngineError, Figure, Light, Scenery, ShootSpec

RED = (200, 40, 50)
GARBAGE = (0, 255, 0)  # colour hidden under the product's transparent pixels


def flat_product(width: int = 120, height: int = 300, color=RED) -> np.ndarray:
    """A flat-coloured upright box with an anti-aliased outline, and a loud
    colour under its fully transparent pixels (as a careless cutout leaves)."""
    s = 4
    mask = np.zeros(((height + 40) * s, (width + 40) * s), np.uint8)
    cv2.rectangle(mask, (20 * s, 20 * s), ((20 + width) * s, (20 + height) * s),
                  255, -1)
    alpha = cv2.resize(mask, (width + 40, height + 40), interpolation=cv2.INTER_AREA)
    rgb = np.empty(alpha.shape + (3,), np.uint8)
    rgb[:] = color
    rgb[alpha == 0] = GARBAGE
    return np.dstack([rgb, alpha])


def studio(width: int = 768, height: int = 512, *, azimuth: float = 0.0,
           elevation: float = 35.0, softness: float = 0.3) -> Scenery:
    """A grey wall over a lighter floor seam at 60% height."""
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    wall = 150 + 40 * y
    floor = 205 - 25 * (y - 0.6)
    value = np.where(y < 0.6, wall, floor)
    img = np.repeat(np.broadcast_to(value, (height, width))[..., None], 3, axis=2)
    img = img + np.array([4, 0, -6], np.float32)
    light = Light(azimuth=azimuth, elevation=elevation, softness=softness)
    return Scenery(image=np.clip(img, 0, 255).astype(np.uint8), floor_y=0.6,
                   horizon_y=0.6, light=light, setting="studio", surface="paper")


def torso_figure() -> Figure:
    """A grey mannequin: head, neck, trunk, arms hanging apart, legs."""
    h, w = 900, 400
    rgba = np.zeros((h, w, 4), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (200, 70), (42, 55), 0, 0, 360, 255, -1)  # head
    cv2.rectangle(mask, (184, 120), (216, 160), 255, -1)  # neck
    trunk = np.array([[120, 160], [280, 160], [262, 420], [138, 420]], np.int32)
    cv2.fillPoly(mask, [trunk], 255)
    for x in (98, 302):  # arms, apart from the trunk
        cv2.line(mask, (x + (22 if x < 200 else -22), 170), (x, 440), 255, 26)
    cv2.rectangle(mask, (140, 420), (196, 890), 255, -1)
    cv2.rectangle(mask, (204, 420), (260, 890), 255, -1)
    shade = np.linspace(170, 120, w, dtype=np.float32)[None, :]
    rgba[..., :3] = np.repeat(shade, h, axis=0)[..., None].astype(np.uint8)
    rgba[..., 3] = mask
    keypoints = {
        "head_top": (200, 15), "neck": (200, 150), "left_shoulder": (270, 170),
        "right_shoulder": (130, 170), "chest": (200, 230), "waist": (200, 330),
        "left_hip": (235, 420), "right_hip": (165, 420), "left_hand": (302, 440),
        "right_hand": (98, 440), "left_foot": (232, 890), "right_foot": (168, 890),
    }
    return Figure(rgba=rgba, keypoints=keypoints, kind="full")


def shirt(color=RED) -> np.ndarray:
    """A T-shirt silhouette: body with short sleeves."""
    mask = np.zeros((360, 420), np.uint8)
    body = np.array([[130, 20], [290, 20], [300, 350], [120, 350]], np.int32)
    sleeves = np.array([[130, 20], [40, 110], [80, 150], [130, 110],
                        [290, 110], [340, 150], [380, 110], [290, 20]], np.int32)
    cv2.fillPoly(mask, [body, sleeves], 255)
    cv2.ellipse(mask, (210, 20), (40, 22), 0, 0, 180, 0, -1)  # neckline
    rgb = np.empty(mask.shape + (3,), np.uint8)
    rgb[:] = color
    return np.dstack([rgb, mask])


def shoot(**kw) -> object:
    kw.setdefault("product", flat_product())
    kw.setdefault("scenery", studio())
    kw.setdefault("long_side", 512)
    return render_shoot(ShootSpec(**kw))


def product_mask(shot, erode: int = 0) -> np.ndarray:
    mask = (shot.foreground[..., 3] > 250).astype(np.uint8)
    if erode:
        mask = cv2.erode(mask, np.ones((2 * erode + 1,) * 2, np.uint8))
    return mask.astype(bool)


def bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


class TestProductSurvives:
    def test_flat_colour_kept_inside_the_product(self):
        shot = shoot(seed=1)
        inside = product_mask(shot, erode=4)
        assert inside.sum() > 2000
        pixels = shot.image[inside].astype(int)
        assert np.abs(pixels.mean(axis=0) - RED).max() < 10
        assert np.abs(pixels - RED).max() <= 24

    def test_no_halo_of_the_hidden_colour_at_the_edge(self):
        shot = shoot(seed=2)
        solid = product_mask(shot).astype(np.uint8)
        ring = cv2.dilate(solid, np.ones((7, 7), np.uint8)) - cv2.erode(
            solid, np.ones((7, 7), np.uint8))
        img = shot.image.astype(int)
        greenness = img[..., 1] - (img[..., 0] + img[..., 2]) / 2
        assert greenness[ring.astype(bool)].max() < 12

    def test_edge_lies_between_product_and_background(self):
        shot = shoot(seed=3)
        solid = product_mask(shot).astype(np.uint8)
        _x0, y0, _x1, y1 = bbox(solid)
        ring = cv2.dilate(solid, np.ones((5, 5), np.uint8)) - cv2.erode(
            solid, np.ones((5, 5), np.uint8))
        ring[(y0 + y1) // 2:] = 0  # the upper half: no shadow there
        sel = ring.astype(bool)
        img = shot.image[sel].astype(int)
        bg = shot.background[sel].astype(int)
        lo = np.minimum(bg, RED) - 20
        hi = np.maximum(bg, RED) + 20
        assert ((img >= lo) & (img <= hi)).all()

    def test_dark_scene_dims_the_product_but_keeps_its_hue(self):
        dark = studio()
        dark = Scenery(image=(dark.image // 4), floor_y=dark.floor_y,
                       horizon_y=dark.horizon_y, light=dark.light)
        lit = shoot(seed=1).image[product_mask(shoot(seed=1), erode=4)]
        shot = shoot(seed=1, scenery=dark)
        dim = shot.image[product_mask(shot, erode=4)]
        lit_mean, dim_mean = lit.mean(axis=0), dim.mean(axis=0)
        assert dim_mean[0] < lit_mean[0] * 0.92
        assert dim_mean[0] > lit_mean[0] * 0.6
        # Hue kept: the channels scale together.
        ratio = dim_mean / lit_mean
        assert np.ptp(ratio) < 0.12

    def test_input_is_not_mutated(self):
        product = flat_product()
        before = product.copy()
        shoot(product=product)
        assert np.array_equal(product, before)


class TestDeterminism:
    def test_same_spec_same_bytes(self):
        a, b = shoot(seed=5, variant=2), shoot(seed=5, variant=2)
        assert a.image.tobytes() == b.image.tobytes()
        assert a.foreground.tobytes() == b.foreground.tobytes()

    def test_other_seed_or_variant_differs(self):
        base = shoot(seed=5, variant=0)
        for other in (shoot(seed=6, variant=0), shoot(seed=5, variant=1)):
            if other.image.shape == base.image.shape:
                diff = np.abs(other.image.astype(int) - base.image).mean()
                assert diff > 3
            else:
                assert other.params["aspect"] != base.params["aspect"]

    def test_aspect_ratios_vary_across_variants(self):
        shots = [shoot(seed=9, variant=v) for v in range(5)]
        shapes = {s.image.shape[:2] for s in shots}
        assert len(shapes) >= 4
        assert all(max(s.image.shape[:2]) == 512 for s in shots)


class TestLayers:
    def test_layers_match_the_image(self):
        shot = shoot(seed=4)
        assert shot.background.shape == shot.image.shape
        assert shot.foreground.shape[:2] == shot.image.shape[:2]
        a = shot.foreground[..., 3:].astype(np.float32) / 255
        redone = shot.foreground[..., :3] * a + shot.background * (1 - a)
        assert np.abs(redone - shot.image).mean() < 1.5

    def test_params_are_plain_json(self):
        shot = shoot(seed=2, product=shirt(), figure=torso_figure(),
                     industry="fashion")
        params = json.loads(json.dumps(shot.params))
        assert params["aspect"] in ("4:5", "2:3", "1:1", "3:2")
        assert params["placement"] == "worn"
        assert set(params["figure_keypoints"]) == set(torso_figure().keypoints)

    def test_default_scenery_is_a_studio(self):
        shot = render_shoot(ShootSpec(product=flat_product(), seed=3, long_side=384))
        assert max(shot.image.shape[:2]) == 384
        inside = product_mask(shot, erode=3)
        assert np.abs(shot.image[inside].astype(int).mean(axis=0) - RED).max() < 12
        # Behind the product: a plate, not a flat fill.
        assert shot.background.std() > 1.0

    def test_rejects_what_it_cannot_place(self):
        with pytest.raises(EngineError, match="RGBA"):
            shoot(product=np.zeros((10, 10, 3), np.uint8))
        with pytest.raises(EngineError, match="transparent"):
            shoot(product=np.zeros((10, 10, 4), np.uint8))


class TestShadow:
    def test_shadow_falls_away_from_the_light(self):
        # Light travelling right (from the left): the floor darkens on the right.
        for azimuth, darker in ((0.0, "right"), (180.0, "left")):
            shot = shoot(scenery=studio(azimuth=azimuth), seed=3, industry="")
            solid = product_mask(shot)
            x0, y0, x1, y1 = bbox(solid)
            ph = y1 - y0
            ratio = (shot.image.astype(np.float32) + 1) / (shot.background + 1.0)
            rows = slice(y1 - int(0.04 * ph), min(y1 + int(0.03 * ph), ratio.shape[0]))
            right = ratio[rows, x1 + 6:x1 + int(0.3 * ph)].mean()
            left = ratio[rows, max(x0 - int(0.3 * ph), 0):x0 - 6].mean()
            assert (right < left - 0.05) if darker == "right" else (left < right - 0.05)

    def test_floor_under_the_product_darkens(self):
        shot = shoot(seed=8)
        x0, _y0, x1, y1 = bbox(product_mask(shot))
        under = slice(y1, min(y1 + 4, shot.image.shape[0]))
        img = shot.image[under, x0:x1].astype(int).mean()
        bg = shot.background[under, x0:x1].astype(int).mean()
        assert img < bg - 10


class TestSteering:
    def luminance(self, shot) -> float:
        return float(cv2.cvtColor(shot.image, cv2.COLOR_RGB2GRAY).mean())

    def test_mood_words_move_brightness(self):
        dark = self.luminance(shoot(seed=1, suggestions="dark moody"))
        plain = self.luminance(shoot(seed=1))
        bright = self.luminance(shoot(seed=1, suggestions="bright airy"))
        assert dark < plain - 8
        assert bright > plain + 8

    def test_guidelines_steer_too(self):
        plain = self.luminance(shoot(seed=1))
        dark = self.luminance(shoot(seed=1, guidelines="dark, moody"))
        assert dark < plain - 8

    def test_close_up_industries_fill_more_of_the_frame(self):
        for variant in range(3):
            fractions = {}
            for industry in ("jewelry", "cosmetics", "electronics"):
                shot = shoot(seed=2, variant=variant, industry=industry)
                _x0, y0, _x1, y1 = bbox(product_mask(shot))
                fractions[industry] = (y1 - y0) / shot.image.shape[0]
            assert fractions["jewelry"] > fractions["electronics"] + 0.05
            assert fractions["cosmetics"] > fractions["electronics"] + 0.05

    def test_furniture_stands_lower_in_a_wider_frame(self):
        bottoms, aspects = {}, {}
        for industry in ("furniture", ""):
            shots = [shoot(seed=4, variant=v, industry=industry) for v in range(4)]
            bottoms[industry] = np.mean(
                [bbox(product_mask(s))[3] / s.image.shape[0] for s in shots])
            aspects[industry] = np.mean(
                [s.image.shape[1] / s.image.shape[0] for s in shots])
        assert bottoms["furniture"] > bottoms[""] + 0.02
        assert aspects["furniture"] > 1.0

    def test_side_light_shades_the_product_across(self):
        def across(shot) -> float:
            mask = product_mask(shot, erode=3)
            x0, _, x1, _ = bbox(mask)
            third = (x1 - x0) // 3
            gray = cv2.cvtColor(shot.image, cv2.COLOR_RGB2GRAY).astype(float)
            left = gray[:, x0:x0 + third][mask[:, x0:x0 + third]].mean()
            right = gray[:, x1 - third:x1][mask[:, x1 - third:x1]].mean()
            return left - right

        plain = across(shoot(seed=2, scenery=studio(softness=0.8)))
        side = across(shoot(seed=2, scenery=studio(softness=0.8),
                            suggestions="side light"))
        assert side > plain + 4  # lit from the left: the left third is brighter

    def test_food_is_shot_looking_down(self):
        # A looking-down keystone widens the frame's bottom: the flat product's
        # bottom edge comes out wider than its top.
        for variant in range(3):
            shot = shoot(seed=6, variant=variant, industry="food",
                         product=flat_product(200, 200))
            assert shot.params["tilt"] > 0.02
            mask = product_mask(shot)
            rows = np.flatnonzero(mask.any(axis=1))
            span = rows[-1] - rows[0]  # away from the corners the roll tips
            top = mask[rows[0] + int(0.15 * span)].sum()
            bottom = mask[rows[0] + int(0.85 * span)].sum()
            assert bottom > top + 2

    def test_framing_words(self):
        close = shoot(seed=3, suggestions="close up")
        wide = shoot(seed=3, suggestions="wide shot")
        hc = np.ptp(np.nonzero(product_mask(close))[0]) / close.image.shape[0]
        hw = np.ptp(np.nonzero(product_mask(wide))[0]) / wide.image.shape[0]
        assert hc > hw * 1.2
        centred = shoot(seed=3, variant=1, suggestions="centered")
        x0, _, x1, _ = bbox(product_mask(centred))
        assert abs((x0 + x1) / 2 / centred.image.shape[1] - 0.5) < 0.05


class TestFigures:
    def test_garment_is_worn_on_the_torso(self):
        figure = torso_figure()
        for variant in range(2):
            shot = shoot(product=shirt(), figure=figure, industry="fashion",
                         seed=1, variant=variant)
            img = shot.image.astype(int)
            red = (np.abs(img - RED).sum(axis=2) < 60)
            x0, y0, x1, y1 = bbox(red)
            kp = shot.params["figure_keypoints"]
            for name in ("left_shoulder", "right_shoulder", "chest", "waist"):
                x, y = kp[name]
                assert x0 - 3 <= x <= x1 + 3 and y0 - 3 <= y <= y1 + 3, name
            # The head stays visible above the collar, the hands below the sleeves.
            hx, hy = kp["head_top"]
            assert hy < y0
            head = shot.image[int(hy) + 8, int(hx)].astype(int)
            assert np.abs(head - RED).sum() > 100
            lx, ly = kp["left_hand"]
            assert not red[int(ly) - 6, int(lx)]

    def test_product_is_held_in_the_hand(self):
        shot = shoot(figure=torso_figure(), industry="electronics", seed=2)
        assert shot.params["placement"].startswith("held")
        hand = shot.params["placement"].split(":")[1]
        hx, hy = shot.params["figure_keypoints"][hand]
        x0, y0, x1, y1 = bbox(np.abs(shot.image.astype(int) - RED).sum(axis=2) < 40)
        assert x0 <= hx <= x1 and y0 <= hy <= y1

    def test_handless_torso_form_stands_beside(self):
        full = torso_figure()
        keys = {k: v for k, v in full.keypoints.items()
                if k not in ("left_hand", "right_hand")}
        form = Figure(rgba=full.rgba, keypoints=keys, kind="torso")
        shot = shoot(figure=form, industry="electronics", seed=2)
        assert shot.params["placement"] == "beside"
        y1 = bbox(np.abs(shot.image.astype(int) - RED).sum(axis=2) < 40)[3]
        assert y1 / shot.image.shape[0] > 0.7  # on the floor, not in the air

    def test_jewelry_sits_at_the_neck(self):
        shot = shoot(figure=torso_figure(), industry="jewelry", seed=2,
                     product=flat_product(80, 80))
        nx, ny = shot.params["figure_keypoints"]["neck"]
        x0, y0, x1, _y1 = bbox(np.abs(shot.image.astype(int) - RED).sum(axis=2) < 40)
        assert x0 < nx < x1
        assert 0 <= y0 - ny < 0.15 * shot.image.shape[0]
