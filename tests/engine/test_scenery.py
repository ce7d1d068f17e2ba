"""Procedural sceneries: mood, colour, materials, metadata and determinism."""

from __future__ import annotations

import numpy as np
import pytest

from lightbox.engine.scenery import palette, render_scenery, scenery_from_photo
from lightbox.engine.types import EngineError
from lightbox.engine.words import named_color

SIZE = (384, 256)  # a quarter of the default, to keep the suite quick


def _render(text: str, seed: int = 0):
    return render_scenery(text, seed, size=SIZE)


def _lum(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _hue(rgb) -> float:
    import colorsys

    r, g, b = (c / 255 for c in rgb)
    return colorsys.rgb_to_hsv(r, g, b)[0] * 360


def _hue_distance(a: float, b: float) -> float:
    d = abs(a - b) % 360
    return min(d, 360 - d)


def test_mood_sets_the_key():
    dark = _lum(_render("dark moody studio").image).mean()
    bright = _lum(_render("bright airy studio").image).mean()
    assert bright > dark + 80


@pytest.mark.parametrize("place", ["studio", "marble table", "beach", "garden"])
def test_warm_and_cool_shift_the_white_balance(place):
    def r_minus_b(text):
        img = _render(text).image.astype(np.float32)
        return (img[..., 0] - img[..., 2]).mean()

    assert r_minus_b(f"warm {place}") > r_minus_b(f"cool {place}") + 10


def test_a_named_colour_tints_the_wall():
    plain = _render("studio").image
    sage = _render("sage green studio").image
    wall = slice(int(SIZE[1] * 0.1), int(SIZE[1] * 0.4))
    wall_rgb = sage[wall].reshape(-1, 3).mean(0)
    target = _hue(named_color("sage"))
    assert _hue_distance(_hue(wall_rgb), target) < 20
    # The neutral studio is far less saturated than the sage one.
    def chroma(img):
        px = img[wall].reshape(-1, 3).astype(np.float32)
        return float((px.max(1) - px.min(1)).mean())

    assert chroma(sage) > chroma(plain) + 8


def _floor(text: str) -> np.ndarray:
    scene = render_scenery(text, 3, size=(768, 512))
    top = int(scene.floor_y * 512)
    return scene.image[top:top + 80, 150:620].astype(np.float32)


def test_table_materials_differ_measurably():
    stats = {}
    for material in ("marble", "wood", "concrete"):
        patch = _floor(f"{material} table")
        lum = _lum(patch)
        rows, cols = np.diff(lum, axis=0), np.diff(lum, axis=1)
        warmth = (patch[..., 0] - patch[..., 2]).mean()
        stats[material] = (lum.mean(), warmth, np.abs(rows).mean() /
                           (np.abs(cols).mean() + 1e-6), lum.std())
    # Marble is the brightest, wood the warmest; wood boards run away from the
    # camera, so wood changes more across the frame than along it.
    assert stats["marble"][0] > stats["concrete"][0] + 30
    assert stats["marble"][0] > stats["wood"][0] + 30
    assert stats["wood"][1] > stats["concrete"][1] + 40
    assert stats["wood"][1] > stats["marble"][1] + 40
    assert stats["wood"][2] < 0.85 * stats["concrete"][2]
    assert stats["concrete"][3] > 5.0, "concrete is mottled, not flat"


def test_unknown_text_is_a_neutral_studio():
    scene = _render("xyzzy plugh")
    assert (scene.setting, scene.surface) == ("studio", "paper")
    px = scene.image.reshape(-1, 3).astype(np.float32)
    assert (px.max(1) - px.min(1)).mean() < 20
    assert 140 < _lum(scene.image).mean() < 240


@pytest.mark.parametrize(
    "text", ["", "dark moody studio", "marble table", "walnut desk", "beach",
             "sunset", "night city", "forest", "mountain lake", "pool", "desert"],
)
def test_metadata_is_sane(text):
    scene = _render(text, seed=5)
    assert 0 < scene.horizon_y <= scene.floor_y < 1
    light = scene.light
    assert 0 <= light.azimuth < 360 and 0 < light.elevation <= 90
    assert 0 <= light.softness <= 1 and all(0 <= c <= 255 for c in light.color)
    assert 3 <= len(scene.palette) <= 5
    px = scene.image.reshape(-1, 3).astype(np.int32)
    for color in scene.palette:
        assert (np.abs(px - np.array(color)).max(1) <= 10).mean() > 0.004, color
    assert scene.image.shape == (SIZE[1], SIZE[0], 3)


def test_light_follows_the_place():
    sunset, studio = _render("sunset").light, _render("studio").light
    assert sunset.elevation < 20 and sunset.color[0] - sunset.color[2] > 80
    assert studio.softness > sunset.softness
    assert _render("studio", 1).light.softness > _render("hard light studio",
                                                         1).light.softness


def test_same_seed_same_bytes_and_seeds_vary():
    for text in ("", "marble table", "garden"):
        a, b, c = _render(text, 11), _render(text, 11), _render(text, 12)
        assert a.image.tobytes() == b.image.tobytes()
        diff = np.abs(a.image.astype(np.int16) - c.image.astype(np.int16)).mean()
        assert diff > 2.0, text


def test_full_size_is_the_default():
    assert render_scenery("studio", 0).image.shape == (1024, 1536, 3)


def test_bad_size_is_rejected_by_name():
    with pytest.raises(EngineError, match="size"):
        render_scenery("", 0, size=(10, 20000))


def _photo(horizon: float, light_from_left: bool) -> np.ndarray:
    h, w = 300, 450
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = (1 - xx / w) if light_from_left else xx / w
    img = np.empty((h, w, 3), np.float32)
    img[:] = (200, 196, 190)
    img[yy >= horizon * h] = (150, 120, 95)
    img *= (0.6 + 0.4 * ramp)[..., None]
    return img.astype(np.uint8)


def test_scenery_from_photo_finds_the_horizon_and_the_light():
    photo = _photo(0.55, light_from_left=True)
    before = photo.copy()
    scene = scenery_from_photo(photo)
    assert abs(scene.horizon_y - 0.55) < 0.03
    assert scene.horizon_y < scene.floor_y < 1
    # Light from the left travels towards +x: azimuth near 0.
    assert min(scene.light.azimuth, 360 - scene.light.azimuth) < 45
    assert abs(scenery_from_photo(_photo(0.5, False)).light.azimuth - 180) < 45
    assert np.array_equal(photo, before)
    assert scene.image.shape == photo.shape and len(scene.palette) >= 2


def test_scenery_from_photo_without_an_edge_defaults_and_rejects_bad_input():
    flat = np.full((200, 300, 3), 128, np.uint8)
    assert scenery_from_photo(flat).horizon_y == pytest.approx(0.62)
    with pytest.raises(EngineError, match="shape"):
        scenery_from_photo(np.zeros((10, 10), np.uint8))


def test_palette_orders_by_area():
    img = np.zeros((100, 100, 3), np.uint8)
    img[:70] = (200, 30, 30)
    img[70:] = (20, 40, 220)
    assert palette(img)[:2] == ((200, 30, 30), (20, 40, 220))


def test_a_colour_before_a_material_colours_the_surface_not_the_wall():
    scene = _render("black marble")
    h = SIZE[1]
    wall = _lum(scene.image[: int(scene.horizon_y * h) - 4]).mean()
    floor = _lum(scene.image[int(scene.floor_y * h):]).mean()
    assert wall > 120 and floor < 70


def test_scenery_from_photo_accepts_float_images_in_unit_range():
    photo = _photo(0.55, light_from_left=True)
    as_float = scenery_from_photo(photo.astype(np.float32) / 255.0)
    assert abs(as_float.horizon_y - scenery_from_photo(photo).horizon_y) < 0.01
