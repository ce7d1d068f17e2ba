"""Videos and reels: camera motion over still images, encoded as H.264 MP4.

``render_video`` moves a camera over one image (with parallax when the shot's
layers are given); ``render_reel`` joins several such clips with transitions.
Frames are rendered one at a time and streamed to the encoder, so memory does not
grow with the length of a video or the number of images in a reel. Durations are
rounded to whole frames; ``VideoInfo`` reports what was written.

Output is H.264 (libx264, yuv420p, BT.601 matrix tagged in the stream) in MP4 with
the ``moov`` index at the front (``+faststart``) so browsers start playing before
the download ends. Faststart rewrites the file at the end, which a write-only
stream cannot do, so the video is always encoded into a temporary file first: a
path ``out`` is replaced atomically (no half-written file on error), a file-like
``out`` receives the finished bytes with ``write`` (it need not be seekable).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO, Self

import av
import cv2
import numpy as np

from lightbox.engine.motion import (
    Motion,
    ease,
    parse_motion,
    parse_transition,
    plan_path,
    stage,
)
from lightbox.engine.types import EngineError

Layers = tuple[np.ndarray, np.ndarray]  # (background RGB, foreground RGBA)
Out = str | os.PathLike | BinaryIO

MAX_SIDE = 2160
MIN_SIDE = 16
MAX_REEL_IMAGES = 100
MAX_REEL_SECONDS = 300
CRF = 21  # visually clean for product shots at a few Mbit/s
# 'veryfast' keeps a 5 s 1080x1920 video well inside its time budget on 2 cores;
# 'faster' costs ~30% more time for a few percent smaller files.
PRESET = "veryfast"
THREADS = 4


@dataclass(frozen=True)
class VideoInfo:
    """What was written; ``poster`` is a representative RGB frame (thumbnail)."""

    seconds: float
    fps: int
    width: int
    height: int
    frames: int
    poster: np.ndarray


def render_video(
    image: np.ndarray,
    out: Out,
    *,
    layers: Layers | None = None,
    suggestion: str = "",
    seconds: float = 5.0,
    fps: int = 30,
    size: tuple[int, int] = (1080, 1920),
    seed: int = 0,
) -> VideoInfo:
    """A few seconds of camera motion over ``image``, steered by ``suggestion``.

    Words choose the move: "push in"/"zoom"/"slow" (the default), "pan"/"left"/
    "right", "orbit"/"parallax"/"3d", "pull out"/"reveal"; "slow"/"subtle" and
    "fast"/"dynamic" set its strength. With ``layers`` (the compositor's
    ``Shot.background`` and ``Shot.foreground``) the product layer and the
    background move at different speeds, which reads as depth. ``size`` is
    (width, height). The poster is the frame at one third.
    """
    width, height = _check_size(size)
    fps = _check_fps(fps)
    seconds = _check_range("seconds", seconds, 1.0, 30.0)
    _check_words(suggestion, seed)
    _check_rgb("image", image)
    layers = _check_layers("layers", layers, image)

    frames = max(1, round(seconds * fps))
    motion = parse_motion(suggestion, seed=seed)
    clip = _Clip(image, layers, motion=motion, frames=frames, fps=fps,
                size=(width, height))
    poster_at = frames // 3
    poster = None

    with _Writer(out, (width, height), fps) as writer:
        for i in range(frames):
            frame = clip.frame(i)
            if i == poster_at:
                poster = frame
            writer.write(frame)

    return VideoInfo(frames / fps, fps, width, height, frames, poster)


def render_reel(
    images: Iterable[np.ndarray | tuple[np.ndarray, Layers | None]],
    out: Out,
    *,
    suggestion: str = "",
    seconds_per_image: float = 2.5,
    transition: float = 0.5,
    fps: int = 30,
    size: tuple[int, int] = (1080, 1920),
    seed: int = 0,
) -> VideoInfo:
    """Several images, each with its own camera move, joined by transitions.

    Items are RGB images or ``(image, layers)`` pairs; any iterable works and is
    consumed lazily (at most two prepared clips and one raw item are held). Each
    image owns ``seconds_per_image`` of the timeline; the ``transition`` is
    centred on the cut, so the reel lasts ``len(images) * seconds_per_image``.
    "slide"/"swipe" or "wipe" in ``suggestion`` replace the cross-fade; motion
    words apply to every image, otherwise moves cycle from image to image. The
    poster is the middle of the first image's unmixed frames.
    """
    width, height = _check_size(size)
    fps = _check_fps(fps)
    per_image = _check_range("seconds_per_image", seconds_per_image, 0.5, 30.0)
    transition = _check_range("transition", transition, 0.0, per_image / 2)
    _check_words(suggestion, seed)
    style = parse_transition(suggestion)
    per = max(1, round(per_image * fps))
    mix = min(round(transition * fps), per // 2)
    half = mix // 2

    try:
        items = iter(images)
    except TypeError:
        raise EngineError("images: expected an iterable of images") from None
    first = next(items, None)
    if first is None:
        raise EngineError("images: the reel needs at least one image")

    def clip_for(item, index: int, last: bool) -> tuple[_Clip, int, int]:
        if index >= MAX_REEL_IMAGES or (index + 1) * per > MAX_REEL_SECONDS * fps:
            raise EngineError(f"images: a reel holds at most {MAX_REEL_IMAGES} "
                              f"images and lasts at most {MAX_REEL_SECONDS} s")
        image, layers = _check_item(item, index)
        start = 0 if index == 0 else index * per - half
        end = (index + 1) * per if last else (index + 1) * per - half + mix
        motion = parse_motion(suggestion, seed=seed, index=index, default=None)
        clip = _Clip(image, layers, motion=motion, frames=end - start, fps=fps,
                    size=(width, height))
        return clip, start, end

    following = next(items, None)
    index = 0
    current, start, end = clip_for(first, 0, following is None)
    done = 0
    poster = None

    with _Writer(out, (width, height), fps) as writer:
        while True:
            alone_until = end if following is None else end - mix
            poster_at = (done + alone_until) // 2 if index == 0 else -1
            for g in range(done, alone_until):
                frame = current.frame(g - start)
                if g == poster_at:
                    poster = frame
                writer.write(frame)
            done = alone_until
            if following is None:
                break

            index += 1
            after = next(items, None)
            incoming, in_start, in_end = clip_for(following, index, after is None)
            for j in range(mix):
                g = done + j
                weight = float(ease(np.array((j + 1) / (mix + 1))))
                writer.write(_blend(current.frame(g - start),
                                    incoming.frame(g - in_start), weight, style))
            done += mix
            current, start, end, following = incoming, in_start, in_end, after

    return VideoInfo(done / fps, fps, width, height, done, poster)


def _blend(old: np.ndarray, new: np.ndarray, weight: float, style: str) -> np.ndarray:
    """One transition frame, ``weight`` of the way (0..1) from ``old`` to ``new``."""
    width = old.shape[1]
    if style == "slide":
        # The new image pushes the old one out to the left, like a swipe.
        shift = round(weight * width)
        frame = np.empty_like(old)
        frame[:, : width - shift] = old[:, shift:]
        frame[:, width - shift:] = new[:, :shift]
        return frame

    if style == "wipe":
        # A soft vertical edge, 8% of the width wide, sweeping right to left as
        # the slide does.
        feather = max(2.0, 0.08 * width)
        edge = (1.0 - weight) * (width + feather)
        keep_old = np.clip((edge - np.arange(width, dtype=np.float32)) / feather,
                           0.0, 1.0)
        w_old = np.ascontiguousarray(np.broadcast_to(keep_old, old.shape[:2]))
        return cv2.blendLinear(old, new, w_old, 1.0 - w_old)

    return cv2.addWeighted(old, 1.0 - weight, new, weight, 0.0)


class _Clip:
    """One image's camera move, prepared so that a frame is one or two warps.

    The stage (the image, fitted to the output's aspect) is cropped to what the
    move ever shows and scaled once to about the output's resolution; a frame is
    then a bilinear ``warpAffine`` of that plate, plus, with layers, a warp of the
    product layer over the region it covers, composited premultiplied.
    """

    def __init__(self, image: np.ndarray, layers, *, motion: Motion, frames: int,
                 fps: int, size: tuple[int, int]) -> None:
        self._size = size
        base, foreground, focus, anchor, box = stage(image, layers, size)

        width, height = size
        stage_h, stage_w = base.shape[:2]
        cover = max(width / stage_w, height / stage_h)
        visible = (width / (cover * stage_w), height / (cover * stage_h))
        path = plan_path(motion, seconds=frames / fps, visible=visible, focus=focus,
                         anchor=anchor, box=box, layered=foreground is not None)

        self._fg = None
        if foreground is not None:
            self._fg = _Plate(foreground, path.states(frames, path.depths[0]),
                              cover, size)
            self._base = _Plate(base, path.states(frames, path.depths[1]), cover,
                                size)
        else:
            self._base = _Plate(base, path.states(frames, path.depths[0]), cover,
                                size)

    def frame(self, index: int) -> np.ndarray:
        """The RGB frame ``index`` (a new array the caller may keep)."""
        width, height = self._size
        frame = cv2.warpAffine(self._base.rgb, self._base.matrices[index],
                               (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
        if self._fg is not None and self._fg.rgb is not None:
            self._composite(frame, self._fg.matrices[index])
        return frame

    def _composite(self, frame: np.ndarray, matrix: np.ndarray) -> None:
        # Only the part of the frame the product layer lands on is warped and
        # blended: products usually cover a fraction of the frame.
        height, width = frame.shape[:2]
        plate_h, plate_w = self._fg.rgb.shape[:2]
        xs = matrix[0, 0] * np.array([-0.5, plate_w - 0.5]) + matrix[0, 2]
        ys = matrix[1, 1] * np.array([-0.5, plate_h - 0.5]) + matrix[1, 2]
        x0, x1 = max(0, math.floor(xs.min())), min(width, math.ceil(xs.max()) + 1)
        y0, y1 = max(0, math.floor(ys.min())), min(height, math.ceil(ys.max()) + 1)
        if x1 <= x0 or y1 <= y0:
            return

        shifted = matrix.copy()
        shifted[0, 2] -= x0
        shifted[1, 2] -= y0
        region = (x1 - x0, y1 - y0)
        warp = {"flags": cv2.INTER_LINEAR, "borderMode": cv2.BORDER_CONSTANT,
                "borderValue": 0}
        rgb = cv2.warpAffine(self._fg.rgb, shifted, region, **warp)
        alpha = cv2.warpAffine(self._fg.alpha, shifted, region, **warp)
        behind = cv2.multiply(frame[y0:y1, x0:x1], cv2.merge([255 - alpha] * 3),
                              scale=1 / 255)
        frame[y0:y1, x0:x1] = cv2.add(behind, rgb)


class _Plate:
    """A layer cropped to what the move shows, scaled once, with its matrices."""

    def __init__(self, stage: np.ndarray, states: np.ndarray, cover: float,
                 size: tuple[int, int]) -> None:
        width, height = size
        stage_h, stage_w = stage.shape[:2]
        zoom, cx, cy = states[:, 0], states[:, 1], states[:, 2]
        k = cover * zoom  # stage pixels -> output pixels, per frame

        # The union of every frame's view, plus a pixel or two for the filter.
        x0 = max(0, math.floor((cx * stage_w - width / (2 * k)).min()) - 2)
        x1 = min(stage_w, math.ceil((cx * stage_w + width / (2 * k)).max()) + 2)
        y0 = max(0, math.floor((cy * stage_h - height / (2 * k)).min()) - 2)
        y1 = min(stage_h, math.ceil((cy * stage_h + height / (2 * k)).max()) + 2)
        if stage.shape[2] == 4:
            # A product layer only needs the box its pixels occupy.
            ys, xs = np.nonzero(stage[y0:y1, x0:x1, 3])
            if xs.size == 0:
                self.rgb = None
                return
            x0, x1 = x0 + max(0, xs.min() - 2), x0 + min(x1 - x0, xs.max() + 3)
            y0, y1 = y0 + max(0, ys.min() - 2), y0 + min(y1 - y0, ys.max() + 3)

        scale = float(k.max())
        plate_w = max(1, round((x1 - x0) * scale))
        plate_h = max(1, round((y1 - y0) * scale))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        plate = cv2.resize(stage[y0:y1, x0:x1], (plate_w, plate_h),
                           interpolation=interpolation)
        sx, sy = plate_w / (x1 - x0), plate_h / (y1 - y0)

        # Plate pixel p sits at stage edge-coordinate (p + 0.5) / s + x0, and the
        # stage point cx * stage_w lands on the output centre.
        self.matrices = np.zeros((len(states), 2, 3))
        self.matrices[:, 0, 0] = k / sx
        self.matrices[:, 1, 1] = k / sy
        self.matrices[:, 0, 2] = (0.5 / sx + x0 - cx * stage_w) * k + width / 2 - 0.5
        self.matrices[:, 1, 2] = (0.5 / sy + y0 - cy * stage_h) * k + height / 2 - 0.5
        if stage.shape[2] == 4:
            self.alpha = np.ascontiguousarray(plate[..., 3])
            # Cubic overshoot must not leave colour brighter than its coverage.
            self.rgb = np.minimum(plate[..., :3], self.alpha[..., None])
        else:
            self.rgb = plate


class _Writer:
    """H.264/MP4 encoder fed one RGB frame at a time; see the module docstring."""

    def __init__(self, out: Out, size: tuple[int, int], fps: int) -> None:
        if isinstance(out, (str, os.PathLike)):
            folder = os.path.dirname(os.path.abspath(os.fspath(out)))
            if not os.path.isdir(folder):
                raise EngineError(f"out: folder {folder!r} does not exist")
        elif callable(getattr(out, "write", None)):
            folder = None
        else:
            raise EngineError(f"out: expected a path or a binary file, got {out!r}")
        self._out = out
        self._fps = fps
        self._count = 0
        handle, self._tmp = tempfile.mkstemp(prefix=".lightbox-video-",
                                             suffix=".mp4", dir=folder)
        os.close(handle)

        self._container = av.open(self._tmp, "w", format="mp4",
                                  options={"movflags": "+faststart"})
        stream = self._container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        # mbtree reads memory it did not initialise: with it on, the same frames
        # encode to different bytes from run to run. Off, files grow ~5%.
        stream.options = {"crf": str(CRF), "preset": PRESET,
                          "x264-params": "mbtree=0"}
        context = stream.codec_context
        context.time_base = Fraction(1, fps)
        context.gop_size = 2 * fps  # a keyframe every 2 s: quick seeking
        # x264's frame threads encode while the next frame renders. A fixed count
        # keeps the bytes the same on every machine (they depend on it).
        context.thread_count = THREADS
        # sRGB pixels converted with OpenCV's BT.601 limited-range matrix; say so,
        # or players guess BT.709 for HD sizes and shift the colours.
        context.colorspace = 6  # SMPTE 170M (BT.601) matrix
        context.color_primaries = 1  # BT.709 = sRGB primaries
        context.color_trc = 1  # BT.709
        context.color_range = 1  # limited (TV) range
        self._stream = stream

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind, error, trace) -> None:
        try:
            if kind is None:
                self._container.mux(self._stream.encode(None))
            self._container.close()
            if kind is None:
                self._deliver()
        finally:
            if os.path.exists(self._tmp):
                os.remove(self._tmp)

    def write(self, rgb: np.ndarray) -> None:
        # OpenCV's conversion is ~2x faster than handing rgb24 to swscale.
        yuv = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = self._count
        frame.time_base = Fraction(1, self._fps)
        self._container.mux(self._stream.encode(frame))
        self._count += 1

    def _deliver(self) -> None:
        if isinstance(self._out, (str, os.PathLike)):
            os.replace(self._tmp, self._out)
        else:
            with open(self._tmp, "rb") as source:
                shutil.copyfileobj(source, self._out, 1 << 20)


def _check_size(size) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise EngineError(f"size: expected (width, height), got {size!r}") from None
    for name, value in (("width", width), ("height", height)):
        if not MIN_SIDE <= value <= MAX_SIDE or value % 2:
            raise EngineError(
                f"size: {name} {value} must be even and within {MIN_SIDE}..{MAX_SIDE}"
            )
    return width, height


def _check_fps(fps) -> int:
    if isinstance(fps, bool) or not isinstance(fps, (int, np.integer)):
        raise EngineError(f"fps: expected a whole number, got {fps!r}")
    if not 1 <= fps <= 60:
        raise EngineError(f"fps: {fps} is outside 1..60")
    return int(fps)


def _check_range(name: str, value, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise EngineError(f"{name}: expected a number, got {value!r}")
    if not low <= float(value) <= high:  # also refuses NaN
        raise EngineError(f"{name}: {value} is outside {low:g}..{high:g}")
    return float(value)


def _check_words(suggestion, seed) -> None:
    if not isinstance(suggestion, str):
        raise EngineError(f"suggestion: expected text, got {suggestion!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise EngineError(f"seed: expected a whole number, got {seed!r}")


def _check_rgb(name: str, image, channels: int = 3) -> None:
    if not isinstance(image, np.ndarray):
        raise EngineError(f"{name}: expected a NumPy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise EngineError(f"{name}: expected dtype uint8, got {image.dtype}")
    if image.ndim != 3 or image.shape[2] != channels:
        raise EngineError(
            f"{name}: expected shape (H, W, {channels}), got {image.shape}"
        )
    if min(image.shape[:2]) < MIN_SIDE:
        raise EngineError(f"{name}: {image.shape[1]}x{image.shape[0]} is too small")


def _check_layers(name: str, layers, image: np.ndarray) -> Layers | None:
    if layers is None:
        return None
    if not isinstance(layers, (tuple, list)) or len(layers) != 2:
        raise EngineError(f"{name}: expected (background RGB, foreground RGBA)")
    background, foreground = layers
    _check_rgb(f"{name}.background", background, 3)
    _check_rgb(f"{name}.foreground", foreground, 4)
    for part, array in (("background", background), ("foreground", foreground)):
        if array.shape[:2] != image.shape[:2]:
            raise EngineError(
                f"{name}.{part}: size {array.shape[1]}x{array.shape[0]} differs "
                f"from the image's {image.shape[1]}x{image.shape[0]}"
            )
    return background, foreground


def _check_item(item, index: int) -> tuple[np.ndarray, Layers | None]:
    name = f"images[{index}]"
    if isinstance(item, tuple) and len(item) == 2:
        image, layers = item
    else:
        image, layers = item, None
    _check_rgb(name, image)
    return image, _check_layers(f"{name}.layers", layers, image)
