"""Video providers: who turns still images into an MP4, chosen per request.

The endpoints and the render task only talk to :class:`VideoProvider`. The
built-in provider renders on the CPU with the engine (``lightbox.engine.video``);
a hosted video model becomes another provider by registering a factory under
its name with :func:`register_provider`, without touching the endpoints.

A provider is *configured* when its factory returns one for the instance's
settings: the built-in one always does; a hosted one returns None until its
credentials are set. ``provider`` in a request must name a configured provider,
else the request is a 400 that lists the configured ones.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO, Protocol, runtime_checkable

import numpy as np

from lightbox.engine import video as engine_video
from lightbox.engine.video import Layers, VideoInfo
from lightbox.errors import BadRequest

BUILTIN = "builtin"

# A reel's images each get this much time, until the reel would pass
# MAX_REEL_SECONDS; then they share that evenly (20 images: 1.5 s each).
SECONDS_PER_IMAGE = 2.5
MAX_REEL_SECONDS = 30.0
TRANSITION_SECONDS = 0.5

ReelItem = np.ndarray | tuple[np.ndarray, Layers | None]


@runtime_checkable
class VideoProvider(Protocol):
    """Renders a video of one image, or a reel of several, into ``out``.

    ``out`` is a path or a writable binary file that must end up holding an
    H.264 MP4 the browser can play; ``size`` is (width, height), both even, and
    a provider may scale it down but should keep its aspect. Reel ``images`` may
    be a lazy iterable: a provider that streams them keeps memory flat however
    long the reel. The returned ``VideoInfo.poster`` (an RGB frame of the video)
    becomes the record's thumbnail, so a hosted provider decodes one frame of
    what it downloads.
    """

    name: str

    def render_video(
        self, image: np.ndarray, out: str | BinaryIO, *, layers: Layers | None,
        suggestion: str, size: tuple[int, int], seed: int,
    ) -> VideoInfo: ...

    def render_reel(
        self, images: Iterable[ReelItem], out: str | BinaryIO, *, count: int,
        suggestion: str, size: tuple[int, int], seed: int,
    ) -> VideoInfo: ...


class BuiltinProvider:
    """Camera motion over the stills on the CPU: H.264 in MP4 through PyAV.

    ``seconds``, ``fps`` and ``max_side`` are the house defaults (5 s at 30 fps,
    full HD); an instance with smaller values serves tests and previews, and
    scales every requested size down to ``max_side`` keeping its aspect.
    """

    def __init__(self, *, name: str = BUILTIN, seconds: float = 5.0, fps: int = 30,
                 max_side: int = 1920) -> None:
        self.name = name
        self.seconds = seconds
        self.fps = fps
        self.max_side = max_side

    def render_video(
        self, image: np.ndarray, out: str | BinaryIO, *, layers: Layers | None,
        suggestion: str, size: tuple[int, int], seed: int,
    ) -> VideoInfo:
        return engine_video.render_video(
            image, out, layers=layers, suggestion=suggestion, seconds=self.seconds,
            fps=self.fps, size=self._fit(size), seed=seed,
        )

    def render_reel(
        self, images: Iterable[ReelItem], out: str | BinaryIO, *, count: int,
        suggestion: str, size: tuple[int, int], seed: int,
    ) -> VideoInfo:
        per_image = reel_seconds_per_image(count, base=self.seconds / 2)
        return engine_video.render_reel(
            images, out, suggestion=suggestion, seconds_per_image=per_image,
            transition=min(TRANSITION_SECONDS, per_image / 2), fps=self.fps,
            size=self._fit(size), seed=seed,
        )

    def _fit(self, size: tuple[int, int]) -> tuple[int, int]:
        width, height = size
        scale = min(1.0, self.max_side / max(width, height))
        return even(width * scale), even(height * scale)


def even(value: float) -> int:
    """The nearest even whole number, at least 2 (H.264 in yuv420p needs even)."""
    return max(2, 2 * round(value / 2))


def reel_seconds_per_image(count: int, *, base: float = SECONDS_PER_IMAGE) -> float:
    """Each image's share of a reel: ``base``, shortened so the reel stays within
    MAX_REEL_SECONDS (a long reel renders inside one worker lease)."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    return min(base, MAX_REEL_SECONDS / count)


# The registry ------------------------------------------------------------------

Factory = Callable[[Any], VideoProvider | None]

_factories: dict[str, Factory] = {BUILTIN: lambda settings: BuiltinProvider()}
_lock = threading.Lock()


def register_provider(name: str, factory: Factory) -> None:
    """Make ``name`` selectable; ``factory(settings)`` returns the provider, or
    None while that instance has not configured it (e.g. no API key)."""
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"provider name must be a plain word, got {name!r}")
    with _lock:
        _factories[name] = factory


def unregister_provider(name: str) -> None:
    """Forget a provider (the built-in one stays)."""
    if name == BUILTIN:
        raise ValueError("the built-in provider cannot be unregistered")
    with _lock:
        _factories.pop(name, None)


def configured_providers(settings: Any) -> dict[str, VideoProvider]:
    """The providers this instance can use now, by name, built-in first."""
    with _lock:
        factories = dict(_factories)
    configured = {}
    for name, factory in factories.items():
        provider = factory(settings)
        if provider is not None:
            configured[name] = provider
    return configured


def get_provider(settings: Any, name: str | None, *,
                 field: str = "provider") -> VideoProvider:
    """The configured provider called ``name`` (None or "": the built-in one).

    BadRequest naming ``field`` and listing the configured providers otherwise;
    the same message for unknown and for known-but-unconfigured names, since
    either way the caller can only pick from the list.
    """
    configured = configured_providers(settings)
    provider = configured.get(name or BUILTIN)
    if provider is None:
        names = ", ".join(configured)
        raise BadRequest(f"{field}: unknown provider {name!r}; configured: {names}")
    return provider
