"""The engine interface the platform renders through, and the engines it knows.

The platform holds an :class:`Engine` and never imports the rendering modules
itself, so another implementation (a GPU engine with diffusion models, a remote
service) registers beside the embedded one with :func:`register_engine` and is
chosen by name in the settings.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from lightbox.engine.types import (
    EngineError,
    Figure,
    PackshotOptions,
    Scenery,
    ShootSpec,
    Shot,
)


@runtime_checkable
class Engine(Protocol):
    """What the platform asks of an engine; images are NumPy arrays (types.py)."""

    name: str

    def cutout(self, image: np.ndarray) -> np.ndarray: ...

    def packshot(self, cutout: np.ndarray, *, options: PackshotOptions | None = None,
                 variant: int = 0, seed: int = 0,
                 guidelines: str = "") -> np.ndarray: ...

    def scenery(self, preferences: str, *, seed: int = 0,
                size: tuple[int, int] = (1536, 1024)) -> Scenery: ...

    def scenery_from_photo(self, rgb: np.ndarray) -> Scenery: ...

    def mannequin(self, preferences: str, *, seed: int = 0,
                  size: tuple[int, int] = (1024, 1536)) -> Figure: ...

    def figure_from_photo(self, image: np.ndarray) -> Figure: ...

    def shoot(self, spec: ShootSpec) -> Shot: ...


def digest(image: np.ndarray | bytes) -> str:
    """A content key for an image: its bytes, plus shape and dtype for arrays
    (so a reshaped buffer is a different image)."""
    h = hashlib.blake2b(digest_size=20)
    if isinstance(image, np.ndarray):
        h.update(f"{image.shape}|{image.dtype}|".encode())
        h.update(np.ascontiguousarray(image).data)
    elif isinstance(image, (bytes, bytearray, memoryview)):
        h.update(b"bytes|")
        h.update(image)
    else:
        raise EngineError(f"cannot key an image of type {type(image).__name__}")
    return h.hexdigest()


class _LRU:
    """A small thread-safe least-recently-used map; values are stored read-only
    so a caller cannot change what the next caller gets."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: str, value: np.ndarray) -> np.ndarray:
        """Store a read-only copy of ``value`` and return it."""
        value = value.copy()
        value.flags.writeable = False
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)


class EmbeddedEngine:
    """The CPU engine: procedural sceneries and mannequins, a small cutout network
    (u2netp by default, or the ONNX file at ``cutout_model_path``) and a
    compositor. Cutouts are cached by content, so repeated shoots of one product
    cut it out once."""

    name = "embedded"

    def __init__(self, cutout_model_path: str | None = None, *,
                 cache_size: int = 32) -> None:
        self.cutout_model_path = cutout_model_path or None
        self._cutouts = _LRU(cache_size)
        self._model = None
        self._model_lock = threading.Lock()

    @property
    def cache(self) -> _LRU:
        return self._cutouts

    def _cutout_model(self):
        from lightbox.engine.cutout import get_model

        with self._model_lock:
            if self._model is None:
                self._model = get_model(self.cutout_model_path)
            return self._model

    def cutout(self, image: np.ndarray | bytes) -> np.ndarray:
        """RGBA cutout of an image array or encoded file bytes (read-only result,
        shared with later calls for the same content)."""
        from lightbox.engine.cutout import cut_out
        from lightbox.engine.imageio import load_image

        key = digest(image)
        cached = self._cutouts.get(key)
        if cached is not None:
            return cached
        array = load_image(bytes(image)) if not isinstance(image, np.ndarray) else image
        result = cut_out(array, model=self._cutout_model())
        return self._cutouts.put(key, result)

    def packshot(self, cutout: np.ndarray, *, options: PackshotOptions | None = None,
                 variant: int = 0, seed: int = 0, guidelines: str = "") -> np.ndarray:
        from lightbox.engine.packshot import render_packshot

        return render_packshot(cutout, options=options or PackshotOptions(),
                               variant=variant, seed=seed, guidelines=guidelines)

    def scenery(self, preferences: str, *, seed: int = 0,
                size: tuple[int, int] = (1536, 1024)) -> Scenery:
        from lightbox.engine.scenery import render_scenery

        return render_scenery(preferences, seed, size=size)

    def scenery_from_photo(self, rgb: np.ndarray) -> Scenery:
        from lightbox.engine.scenery import scenery_from_photo

        return scenery_from_photo(rgb)

    def mannequin(self, preferences: str, *, seed: int = 0,
                  size: tuple[int, int] = (1024, 1536)) -> Figure:
        from lightbox.engine.mannequin import render_mannequin

        return render_mannequin(preferences, seed, size=size)

    def figure_from_photo(self, image: np.ndarray) -> Figure:
        from lightbox.engine.figure import figure_from_photo

        return figure_from_photo(image, model=self._cutout_model())

    def shoot(self, spec: ShootSpec) -> Shot:
        from lightbox.engine.compose import render_shoot

        return render_shoot(spec)


_registry: dict[str, Callable[..., Engine]] = {"embedded": EmbeddedEngine}
_registry_lock = threading.Lock()


def register_engine(name: str, factory: Callable[..., Engine]) -> None:
    """Make ``get_engine(name, **options)`` call ``factory(**options)``."""
    if not name or not name.strip():
        raise EngineError("engine name must not be empty")
    with _registry_lock:
        _registry[name.strip().lower()] = factory


def engine_names() -> list[str]:
    with _registry_lock:
        return sorted(_registry)


def get_engine(name: str = "embedded", **options) -> Engine:
    """A new engine by its registered name; unknown names list the known ones."""
    key = (name or "").strip().lower()
    with _registry_lock:
        factory = _registry.get(key)
    if factory is None:
        raise EngineError(
            f"unknown engine {name!r}; known engines: {', '.join(engine_names())}"
        )
    return factory(**options)
