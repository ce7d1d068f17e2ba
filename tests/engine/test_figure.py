"""figure_from_photo: keypoints estimated from a person's silhouette."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lightbox.engine.figure import estimate_keypoints, figure_from_photo
from lightbox.engine.types import KEYPOINTS, EngineError


def person(*, upper_body: bool = False) -> np.ndarray:
    """An upright, frontal person on a transparent canvas (a PNG with real alpha,
    so the cutout trusts it). Drawn joints: neck at y=150, shoulders at y=172,
    hands at y=440, feet at y=890."""
    h, w = (520, 420) if upper_body else (920, 420)
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (210, 80), (40, 55), 0, 0, 360, 255, -1)
    cv2.rectangle(mask, (195, 130), (225, 165), 255, -1)
    trunk = np.array([[125, 165], [295, 165], [275, 430], [145, 430]], np.int32)
    cv2.fillPoly(mask, [trunk], 255)
    cv2.line(mask, (118, 180), (100, 440), 255, 24)
    cv2.line(mask, (302, 180), (320, 440), 255, 24)
    if not upper_body:
        cv2.rectangle(mask, (148, 430), (205, 890), 255, -1)
        cv2.rectangle(mask, (215, 430), (272, 890), 255, -1)
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., :3] = (180, 140, 120)
    rgba[..., 3] = mask
    return rgba


class TestFigureFromPhoto:
    def test_full_figure_keypoints_in_body_order(self):
        fig = figure_from_photo(person())
        assert fig.source == "photo" and fig.kind == "full"
        kp = fig.keypoints
        assert list(kp) == [k for k in KEYPOINTS if k in kp]
        assert set(kp) == set(KEYPOINTS)
        ys = [kp[k][1] for k in ("head_top", "neck", "left_shoulder", "chest",
                                 "waist", "left_hip", "left_foot")]
        assert ys == sorted(ys) and len(set(ys)) == len(ys)
        # The figure's left is on the viewer's right.
        assert kp["left_shoulder"][0] > kp["neck"][0] > kp["right_shoulder"][0]
        assert kp["left_hand"][0] > kp["left_hip"][0] > kp["right_hip"][0]

    def test_keypoints_near_the_drawn_joints(self):
        fig = figure_from_photo(person())
        # The cutout trims the canvas: compare in the trimmed frame.
        top = np.flatnonzero((person()[..., 3] > 8).any(axis=1))[0]
        kp = fig.keypoints
        assert abs(kp["neck"][1] + top - 150) < 18
        assert abs(kp["left_shoulder"][1] + top - 172) < 20
        assert abs(kp["left_hand"][1] + top - 440) < 20
        assert abs(kp["left_foot"][1] + top - 890) < 4

    def test_upper_body_has_no_feet(self):
        fig = figure_from_photo(person(upper_body=True))
        assert fig.kind == "torso"
        assert "left_foot" not in fig.keypoints and "left_hand" not in fig.keypoints
        assert fig.keypoints["neck"][1] < fig.keypoints["left_shoulder"][1]

    def test_empty_photo_is_an_error(self):
        with pytest.raises(EngineError):
            figure_from_photo(np.zeros((64, 64, 4), np.uint8))

    def test_tiny_silhouette_is_an_error(self):
        mask = np.zeros((40, 40), bool)
        mask[10:14, 10:12] = True
        rgba = np.zeros((40, 40, 4), np.uint8)
        rgba[..., 3] = mask * 255
        with pytest.raises(EngineError, match="too small"):
            figure_from_photo(rgba)

    def test_estimate_is_deterministic(self):
        mask = person()[..., 3] > 127
        assert estimate_keypoints(mask, kind="full") == estimate_keypoints(
            mask, kind="full")
