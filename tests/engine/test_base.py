"""The engine interface: registry, cutout cache, and the embedded engine's calls."""

from __future__ import annotations

import numpy as np
import pytest

from lightbox.engine import base
from lightbox.engine.base import (
    EmbeddedEngine,
    Engine,
    digest,
    engine_names,
    get_engine,
    register_engine,
)
from lightbox.engine.types import EngineError, ShootSpec, Shot


def product_png(color=(30, 90, 200)) -> np.ndarray:
    """A product with a real alpha channel: the cutout trusts it, no network."""
    rgba = np.zeros((200, 160, 4), np.uint8)
    rgba[30:170, 40:120, :3] = color
    rgba[30:170, 40:120, 3] = 255
    return rgba


class TestRegistry:
    def test_default_is_the_embedded_engine(self):
        engine = get_engine()
        assert isinstance(engine, EmbeddedEngine)
        assert isinstance(engine, Engine)

    def test_unknown_name_lists_the_known_engines(self):
        with pytest.raises(EngineError) as info:
            get_engine("gpu-diffusion")
        assert "gpu-diffusion" in str(info.value)
        assert "embedded" in str(info.value)

    def test_registered_factory_gets_the_options(self, monkeypatch):
        monkeypatch.setattr(base, "_registry", dict(base._registry))
        made = []

        def factory(**options):
            made.append(options)
            return EmbeddedEngine(**options)

        register_engine("Other", factory)
        assert "other" in engine_names()
        engine = get_engine("other", cutout_model_path="/models/x.onnx")
        assert made == [{"cutout_model_path": "/models/x.onnx"}]
        assert engine.cutout_model_path == "/models/x.onnx"

    def test_empty_name_is_refused(self):
        with pytest.raises(EngineError):
            register_engine(" ", EmbeddedEngine)


class TestCutoutCache:
    def test_same_content_is_cut_out_once(self):
        engine = EmbeddedEngine()
        first = engine.cutout(product_png())
        again = engine.cutout(product_png())  # equal content, another array
        assert again is first
        assert (engine.cache.hits, engine.cache.misses) == (1, 1)
        assert first.shape == (140, 80, 4)

    def test_cached_cutout_cannot_be_changed_by_a_caller(self):
        engine = EmbeddedEngine()
        cut = engine.cutout(product_png())
        with pytest.raises(ValueError):
            cut[0, 0] = 0

    def test_different_content_misses(self):
        engine = EmbeddedEngine(cache_size=2)
        for color in ((1, 2, 3), (4, 5, 6), (7, 8, 9)):
            engine.cutout(product_png(color))
        assert len(engine.cache) == 2
        engine.cutout(product_png((1, 2, 3)))  # evicted as least recent
        assert engine.cache.misses == 4

    def test_digest_depends_on_shape_and_bytes(self):
        a = np.zeros((4, 6), np.uint8)
        assert digest(a) != digest(a.reshape(6, 4))
        assert digest(a) == digest(a.copy())
        assert digest(b"abc") != digest(b"abd")
        with pytest.raises(EngineError):
            digest("not an image")  # type: ignore[arg-type]


class TestEmbeddedEngine:
    def test_shoot_composes_the_cached_cutout(self):
        engine = EmbeddedEngine()
        cut = engine.cutout(product_png())
        shot = engine.shoot(ShootSpec(product=cut, seed=1, long_side=256))
        assert isinstance(shot, Shot)
        assert max(shot.image.shape[:2]) == 256
        assert shot.image.dtype == np.uint8 and shot.image.shape[2] == 3

    def test_scenery_has_the_requested_size(self):
        plate = EmbeddedEngine().scenery("sunset beach", seed=3, size=(320, 200))
        assert plate.image.shape == (200, 320, 3)
        assert 0 < plate.floor_y <= 1
