"""Cutouts: the alpha matches the drawn product, edges carry no old backdrop,
and a product PNG with real alpha never reaches the network."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from helpers import (
    BACKDROP_COLORS,
    PRODUCT_COLORS,
    backdrop,
    draw_product,
    photograph,
    product_mask,
    ring_band,
)

from lightbox.engine.cutout import (
    CutoutModel,
    cut_out,
    default_model_path,
    get_model,
    trim,
)
from lightbox.engine.types import EngineError

SIZE = 384


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


class _Refusing:
    """A model that must not be called."""

    def predict(self, rgb):
        raise AssertionError("the network ran on an image that had its own alpha")


class _Blind:
    """A model that finds nothing, like a photo of an empty wall."""

    def predict(self, rgb):
        return np.zeros(rgb.shape[:2], np.float32)


@pytest.fixture(scope="module")
def model() -> CutoutModel:
    return get_model()


class TestModel:
    def test_default_weights_come_from_the_wheel(self):
        path = Path(default_model_path())
        assert path.parts[-2:] == ("rembg", "u2netp.onnx") and path.is_file()
        assert "rembg" not in sys.modules  # found, not imported

    def test_one_instance_per_path_and_size_from_metadata(self, model):
        assert get_model() is model
        assert get_model(default_model_path()) is model
        assert model.input_size == (320, 320)

    def test_predict_is_a_probability_map_at_input_size(self, model):
        photo = photograph(draw_product(SIZE, seed=3, kind="box"), "gradient", seed=3)
        prob = model.predict(photo[:300])
        assert prob.shape == (300, SIZE) and prob.dtype == np.float32
        assert prob.min() >= 0.0 and prob.max() <= 1.0


class _Session:
    """A stand-in onnxruntime session: declared input shape, scripted output."""

    def __init__(self, shape, output):
        self.shape, self.output, self.fed = shape, output, None

    def get_inputs(self):
        return [SimpleNamespace(name="pixel_values", shape=self.shape)]

    def run(self, names, feeds):
        self.fed = feeds["pixel_values"]
        return [self.output(self.fed)]


def _with_session(session) -> CutoutModel:
    model = CutoutModel(default_model_path())
    model._session = session  # what _ensure_session would have built
    return model


class TestOtherModels:
    def test_dynamic_input_size_and_imagenet_normalisation(self):
        session = _Session(
            ["batch", 3, "height", "width"],
            lambda x: np.zeros((1, 1) + x.shape[2:], np.float32),
        )
        model = _with_session(session)
        assert model.input_size == (1024, 1024)

        model.predict(np.full((40, 60, 3), 128, np.uint8))
        assert session.fed.shape == (1, 3, 1024, 1024)
        expected = (128 / 255 - np.array([0.485, 0.456, 0.406])) / np.array(
            [0.229, 0.224, 0.225]
        )
        assert np.allclose(session.fed[0, :, 5, 5], expected, atol=1e-4)

    def test_logits_are_squashed_and_a_flat_map_means_nothing(self):
        def halves(x):
            out = np.full((1, 1) + x.shape[2:], -8.0, np.float32)
            out[..., : x.shape[3] // 2] = 8.0  # BiRefNet-style logits
            return out

        prob = _with_session(_Session([1, 3, 64, 64], halves)).predict(
            np.zeros((32, 80, 3), np.uint8)
        )
        assert prob.shape == (32, 80)
        assert prob[:, :30].min() > 0.95 and prob[:, 50:].max() < 0.05

        flat = _Session([1, 3, 64, 64], lambda x: np.full((1, 1, 64, 64), 0.4))
        assert not _with_session(flat).predict(np.zeros((32, 32, 3), np.uint8)).any()


@pytest.mark.parametrize(
    ("kind", "backdrop", "seed"),
    [
        ("bottle", "noisy", 0),
        ("shirt", "gradient", 1),
        ("mug", "noisy", 2),
        ("shoe", "gradient", 3),
    ],
)
def test_alpha_matches_the_drawn_mask(model, kind, backdrop, seed):
    product = draw_product(SIZE, seed=seed, kind=kind)
    cut = cut_out(photograph(product, backdrop, seed=seed), model=model, crop=False)
    assert cut.shape == (SIZE, SIZE, 4)
    assert _iou(cut[..., 3] >= 128, product_mask(product)) > 0.9


def test_real_openings_stay_open(model):
    # The mug's handle encloses backdrop: hole filling must not close it.
    product = draw_product(SIZE, seed=2, kind="mug")
    cut = cut_out(photograph(product, "noisy", seed=2), model=model, crop=False)
    hole = ~product_mask(product) & (np.cumsum(product_mask(product), axis=1) > 0)
    hole &= np.cumsum(product_mask(product)[:, ::-1], axis=1)[:, ::-1] > 0
    assert hole.sum() > 50  # the drawn handle really has an opening
    assert (cut[..., 3][hole] < 64).mean() > 0.9


def test_dark_parts_kept_cast_shadow_left_out(model):
    # u2netp doubts the bottle's dark cap; the photo also has a cast shadow.
    product = draw_product(SIZE, seed=0, kind="bottle")
    cut = cut_out(photograph(product, "noisy", seed=0), model=model, crop=False)
    cap_colour = np.array(PRODUCT_COLORS["bottle"]) * 0.7
    cap = np.abs(product[..., :3] - cap_colour).max(axis=2) < 12
    cap &= product[..., 3] == 255
    assert cap.sum() > 100
    assert (cut[..., 3][cap] >= 128).mean() > 0.9

    outside = ~cv2.dilate(
        product_mask(product).astype(np.uint8), np.ones((5, 5), np.uint8)
    ).astype(bool)
    assert (cut[..., 3][outside] > 32).mean() < 0.002


def test_no_halo_of_the_old_backdrop(model):
    product = draw_product(SIZE, seed=1, kind="shirt")
    cut = cut_out(photograph(product, "noisy", seed=1), model=model, crop=False)
    band = ring_band(cut[..., 3] >= 128, 1, 3)
    assert band.sum() > 200

    colours = cut[..., :3][band].astype(np.float32)
    truth = product[..., :3][band].astype(np.float32)
    assert np.abs(colours - truth).mean() < 12
    mean = colours.mean(axis=0)
    assert np.linalg.norm(mean - PRODUCT_COLORS["shirt"]) < 30
    assert np.linalg.norm(mean - BACKDROP_COLORS["noisy"]) > 150

    # Hidden colours under full transparency are cleared, not left as backdrop.
    assert (cut[..., :3][cut[..., 3] == 0] == 0).all()


def test_white_product_on_dark_backdrop_has_no_dark_fringe(model):
    # The classic halo: edge pixels mix in the dark backdrop, and a plain alpha
    # keeps that mix as a grey rim around a white product.
    product = draw_product(SIZE, seed=1, kind="shirt", color=(240, 240, 235))
    dark = (backdrop(SIZE, kind="noisy", seed=1) // 3).astype(np.float32)
    a = product[..., 3:4] / 255.0
    photo = (product[..., :3] * a + dark * (1 - a)).round().astype(np.uint8)
    photo = cv2.GaussianBlur(photo, (0, 0), 0.8)

    cut = cut_out(photo, model=model, crop=False)
    soft = (cut[..., 3] > 20) & (cut[..., 3] < 235)
    assert soft.sum() > 100  # the edge is anti-aliased, not a hard step
    ours = cut[..., :3][soft].mean(axis=1)
    mixed = photo[soft].mean(axis=1)
    assert np.percentile(mixed, 5) < 160  # the photo's edge pixels are grey ...
    assert ours.mean() > 225 and np.percentile(ours, 5) > 200  # the cutout's not


def test_cutout_is_trimmed_and_deterministic(model):
    photo = photograph(draw_product(SIZE, seed=4, kind="box"), "gradient", seed=4)
    before = photo.copy()
    first = cut_out(photo, model=model)
    assert first.shape[0] < SIZE * 0.8 and first.shape[1] < SIZE * 0.8
    assert first[..., 3].max() == 255
    for edge in (first[0], first[-1], first[:, 0], first[:, -1]):
        assert edge[:, 3].max() > 8  # the box touches all four sides
    assert cut_out(photo, model=model).tobytes() == first.tobytes()
    assert np.array_equal(photo, before)


class TestGivenAlpha:
    def test_real_alpha_skips_the_network(self):
        product = draw_product(SIZE, seed=5, kind="ring")
        cut = cut_out(product, model=_Refusing())
        ys, xs = np.nonzero(product[..., 3] > 8)
        assert cut.shape[:2] == (np.ptp(ys) + 1, np.ptp(xs) + 1)
        assert np.array_equal(
            cut[..., 3], product[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1, 3]
        )

    def test_hidden_colours_are_cleared(self):
        product = draw_product(SIZE, seed=5, kind="bottle")
        product[..., :3][product[..., 3] == 0] = (0, 255, 0)
        cut = cut_out(product, model=_Refusing(), crop=False)
        assert (cut[..., :3][cut[..., 3] == 0] == 0).all()
        assert product[0, 0, 1] == 255  # the input was not touched

    def test_a_photo_with_a_few_clear_pixels_still_goes_to_the_network(self):
        photo = photograph(draw_product(64, seed=0), "noisy", seed=0)
        rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
        rgba[:2, :2, 3] = 0  # rounded-corner screenshot, not a cutout
        with pytest.raises(EngineError, match="the cutout model saw no"):
            cut_out(rgba, model=_Blind())

    def test_fully_transparent_input_is_refused(self):
        empty = np.zeros((64, 64, 4), np.uint8)
        with pytest.raises(EngineError, match="no product found"):
            cut_out(empty, model=_Refusing())


def test_empty_prediction_is_refused():
    photo = photograph(draw_product(64, seed=0), "noisy", seed=0)
    with pytest.raises(EngineError, match="no product found in the image"):
        cut_out(photo, model=_Blind())


class TestTrim:
    def test_crops_to_alpha_box_ignoring_faint_haze(self):
        rgba = np.zeros((50, 60, 4), np.uint8)
        rgba[10:20, 30:45] = (9, 9, 9, 255)
        rgba[0:5, 0:5, 3] = 4  # below the threshold
        out = trim(rgba)
        assert out.shape == (10, 15, 4) and (out[..., 3] == 255).all()
        assert trim(rgba, threshold=2).shape == (20, 45, 4)

    def test_fully_transparent_is_an_error(self):
        with pytest.raises(EngineError, match="fully transparent"):
            trim(np.zeros((8, 8, 4), np.uint8))
