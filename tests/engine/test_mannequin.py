"""Procedural mannequins: outline, keypoints, build, finish and shading."""

from __future__ import annotations

import numpy as np
import pytest

from lightbox.engine.mannequin import render_mannequin
from lightbox.engine.types import KEYPOINTS, EngineError, Light

SIZE = (512, 768)  # half the default, to keep the suite quick


def _render(text: str, seed: int = 0):
    return render_mannequin(text, seed, size=SIZE)


def _alpha(fig):
    return fig.rgba[..., 3].astype(np.float32) / 255.0


def _run_width(fig, y: float, x: float) -> int:
    """Width of the opaque run on row ``y`` that contains column ``x``."""
    row = _alpha(fig)[int(round(y))] > 0.5
    xi = int(round(x))
    assert row[xi], "the centre of the body should be opaque"
    left = xi
    while left > 0 and row[left - 1]:
        left -= 1
    right = xi
    while right < len(row) - 1 and row[right + 1]:
        right += 1
    return right - left + 1


def _near_opaque(fig, point, radius: int = 3) -> bool:
    x, y = (int(round(v)) for v in point)
    a = _alpha(fig)[max(0, y - radius):y + radius + 1,
                    max(0, x - radius):x + radius + 1]
    return bool((a > 0.5).any())


def test_full_figure_has_an_antialiased_outline_and_transparent_surround():
    fig = _render("")
    a = _alpha(fig)
    assert fig.rgba.shape == (SIZE[1], SIZE[0], 4) and fig.rgba.dtype == np.uint8
    assert 0.05 < (a > 0.5).mean() < 0.5
    assert a[0, 0] == 0 and a[-1, -1] == 0
    partial = ((a > 0.05) & (a < 0.95)).sum()
    assert partial > 200, "edges should have partial alpha, not a hard cut"
    assert set(fig.keypoints) == set(KEYPOINTS) and fig.kind == "full"


def test_keypoints_lie_on_the_body_in_a_sane_order():
    fig = _render("woman standing", seed=4)
    kp = fig.keypoints
    a = _alpha(fig)
    for name in ("head_top", "neck", "chest", "waist", "left_hip", "right_hip",
                 "left_foot", "right_foot"):
        x, y = kp[name]
        if name == "head_top":
            assert _near_opaque(fig, (x, y + 2)), name
        else:
            assert a[int(round(y)), int(round(x))] > 0.5, name
    for name in ("left_shoulder", "right_shoulder", "left_hand", "right_hand"):
        assert _near_opaque(fig, kp[name]), name

    ys = [kp[k][1] for k in ("head_top", "neck", "chest", "waist", "left_hip")]
    assert ys == sorted(ys) and len(set(ys)) == len(ys)
    assert kp["left_hip"][1] < kp["left_foot"][1]
    assert kp["left_shoulder"][0] > kp["right_shoulder"][0]
    assert kp["left_hip"][0] > kp["right_hip"][0]
    assert kp["left_hand"][0] > kp["right_hand"][0]
    centre = (kp["left_shoulder"][0] + kp["right_shoulder"][0]) / 2
    assert abs(kp["neck"][0] - centre) < 3 and abs(kp["chest"][0] - centre) < 6


def test_shoulder_keypoints_sit_on_the_outline():
    fig = _render("")
    for name, step in (("left_shoulder", 4), ("right_shoulder", -4)):
        x, y = fig.keypoints[name]
        assert _near_opaque(fig, (x, y), radius=2)
        assert _alpha(fig)[int(round(y)), int(round(x + step))] < 0.5, name


def test_build_words_change_measured_widths():
    slim, curvy, broad = _render("slim"), _render("curvy"), _render("broad man")

    def hips(fig):
        y = fig.keypoints["left_hip"][1]
        return _run_width(fig, y, fig.keypoints["waist"][0])

    def shoulders(fig):
        return fig.keypoints["left_shoulder"][0] - fig.keypoints["right_shoulder"][0]

    assert hips(curvy) > hips(slim) * 1.2
    assert shoulders(broad) > shoulders(slim) * 1.2
    # The hands hang clear of the hips: the measured run is the body alone,
    # and the hip keypoints sit just inside its edges.
    for fig in (slim, curvy):
        width = fig.keypoints["left_hip"][0] - fig.keypoints["right_hip"][0]
        assert abs(hips(fig) - width / 0.86) < 0.1 * hips(fig)


def test_torso_form_has_no_limbs_and_stands_on_a_stand():
    fig = _render("linen dress form")
    assert fig.kind == "torso"
    assert not {"left_hand", "right_hand", "left_foot", "right_foot"} & set(
        fig.keypoints)
    a = _alpha(fig)
    # The stand's pole is much narrower than the body above it.
    pole_row = int(SIZE[1] * 0.8)
    hip_y = fig.keypoints["left_hip"][1]
    assert 0 < (a[pole_row] > 0.5).sum() < 0.2 * (a[int(hip_y)] > 0.5).sum()


def test_body_is_shaded_not_flat():
    fig = _render("matte white")
    inside = _alpha(fig) > 0.99
    lum = fig.rgba[..., :3].astype(np.float32) @ [0.299, 0.587, 0.114]
    assert lum[inside].std() > 18
    # Lit from the upper left: the left flank of the torso is brighter.
    y = int(fig.keypoints["waist"][1])
    x = fig.keypoints["waist"][0]
    half = _run_width(fig, y, x) // 2
    assert lum[y, int(x - half * 0.6)] > lum[y, int(x + half * 0.6)]


def test_finish_words_change_colour():
    def mean_lum(fig):
        inside = _alpha(fig) > 0.99
        return float((fig.rgba[..., :3][inside] @ [0.299, 0.587, 0.114]).mean())

    white, black = _render("matte white"), _render("glossy black")
    assert mean_lum(white) > mean_lum(black) + 100
    tan = _render("tan skin").rgba
    inside = tan[..., 3] == 255
    r, g, b = (tan[..., k][inside].mean() for k in range(3))
    assert r > g > b
    chrome = _render("chrome")
    inside = _alpha(chrome) > 0.99
    lum = chrome.rgba[..., :3][inside] @ [0.299, 0.587, 0.114]
    assert lum.std() > 40, "chrome mirrors a bright and dark studio"


@pytest.mark.parametrize("pose", ["hand on hip", "walking", "arms crossed"])
def test_poses_move_the_hands(pose):
    still, posed = _render("standing"), _render(pose)
    moved = max(np.hypot(posed.keypoints[k][0] - still.keypoints[k][0],
                         posed.keypoints[k][1] - still.keypoints[k][1])
                for k in ("left_hand", "right_hand"))
    assert moved > 15
    assert _near_opaque(posed, posed.keypoints["left_hand"])


def test_same_seed_same_bytes_and_seeds_vary():
    a, b, c = _render("", 7), _render("", 7), _render("", 8)
    assert a.rgba.tobytes() == b.rgba.tobytes()
    assert a.keypoints == b.keypoints
    assert a.rgba.tobytes() != c.rgba.tobytes()


def test_bad_size_is_rejected_by_name():
    with pytest.raises(EngineError, match="size"):
        render_mannequin("", 0, size=(10, 10))


@pytest.mark.parametrize("text", ["tall slim", "broad man walking", "curvy hand on hip",
                                  "petite", "dress form"])
def test_the_whole_figure_fits_in_the_frame(text):
    a = _alpha(_render(text))
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    assert border.max() == 0
    rows = np.flatnonzero(a.max(1) > 0.5)
    assert rows[-1] - rows[0] > 0.75 * SIZE[1]


def test_a_scenery_light_sets_the_shading():
    from_right = Light(azimuth=135.0, elevation=45.0, softness=0.3)
    fig = render_mannequin("matte white", 0, size=SIZE, light=from_right)
    lum = fig.rgba[..., :3].astype(np.float32) @ [0.299, 0.587, 0.114]
    y = int(fig.keypoints["waist"][1])
    x = fig.keypoints["waist"][0]
    half = _run_width(fig, y, x) // 2
    assert lum[y, int(x + half * 0.6)] > lum[y, int(x - half * 0.6)]

    sunset = Light(azimuth=90.0, elevation=8.0, softness=0.3, color=(255, 184, 120))
    warm = render_mannequin("matte white", 0, size=SIZE, light=sunset).rgba
    inside = warm[..., 3] == 255
    assert (warm[..., 0][inside].astype(int) - warm[..., 2][inside]).mean() > 25
