"""Videos and reels: decoded back with PyAV and checked frame by frame.

Scenes are drawn here: a warm backdrop with a dark-blue square (a background
feature to track) and a red product disc on its own layer, so where each colour
should be is known exactly. Sizes are small (270x480, 10 fps) to keep this fast.
"""

from __future__ import annotations

import io
import itertools
import struct
import tracemalloc

import av
import cv2
import numpy as np
import pytest

from lightbox.engine.motion import parse_motion, parse_transition
from lightbox.engine.types import EngineError
from lightbox.engine.video import render_reel, render_video

SIZE = (270, 480)
RED = (210, 30, 30)
FEATURE = (20, 40, 160)


def scene(w: int = 270, h: int = 480, *, product=RED, backdrop=(225, 210, 190),
          disc=(0.5, 0.6, 0.16), feature: bool = True):
    """A photo (product over backdrop) and its layers (background, foreground)."""
    ramp = np.linspace(1.0, 0.75, h, dtype=np.float32)[:, None, None]
    background = np.broadcast_to(np.array(backdrop, np.float32) * ramp, (h, w, 3))
    background = np.ascontiguousarray(background.astype(np.uint8))
    side = w // 8
    if feature:
        cv2.rectangle(background, (w // 6, h // 5),
                      (w // 6 + side, h // 5 + side), FEATURE, -1)

    foreground = np.zeros((h, w, 4), np.uint8)
    cx, cy, r = int(disc[0] * w), int(disc[1] * h), int(disc[2] * w)
    cv2.circle(foreground, (cx, cy), r, (*product, 255), -1, cv2.LINE_AA)
    alpha = foreground[..., 3:] / 255.0
    image = (foreground[..., :3] * alpha + background * (1 - alpha) + 0.5)
    return image.astype(np.uint8), (background, foreground)


def decode(data):
    """All frames as RGB arrays, and the stream's facts."""
    with av.open(data if isinstance(data, str) else io.BytesIO(data)) as box:
        stream = box.streams.video[0]
        facts = {
            "codec": stream.codec_context.name,
            "pix_fmt": stream.codec_context.pix_fmt,
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "rate": stream.average_rate,
            "seconds": float(stream.duration * stream.time_base),
        }
        frames = [f.to_ndarray(format="rgb24") for f in box.decode(stream)]
    return frames, facts


def top_level_boxes(data: bytes) -> list[str]:
    names, at = [], 0
    while at + 8 <= len(data):
        size, name = struct.unpack(">I4s", data[at:at + 8])
        if size == 1:
            size = struct.unpack(">Q", data[at + 8:at + 16])[0]
        elif size == 0:
            size = len(data) - at
        names.append(name.decode("latin-1"))
        at += size
    return names


def colour_mask(frame: np.ndarray, colour, tolerance: int = 45) -> np.ndarray:
    diff = np.abs(frame.astype(np.int16) - np.array(colour, np.int16))
    return diff.max(axis=2) < tolerance


def centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    assert xs.size > 20, "colour not found in frame"
    return np.array([xs.mean(), ys.mean()])


def render(image, **options) -> tuple[bytes, object]:
    out = io.BytesIO()
    options = {"fps": 10, "size": SIZE, "seconds": 2.0, **options}
    info = render_video(image, out, **options)
    return out.getvalue(), info


class TestContainer:
    def test_metadata_matches_the_request(self, tmp_path):
        image, _ = scene()
        path = str(tmp_path / "clip.mp4")
        info = render_video(image, path, seconds=2.0, fps=10, size=SIZE)

        frames, facts = decode(path)
        assert facts == {"codec": "h264", "pix_fmt": "yuv420p", "width": 270,
                         "height": 480, "rate": 10, "seconds": 2.0}
        assert len(frames) == info.frames == 20
        assert (info.seconds, info.fps, info.width, info.height) == (2.0, 10, 270, 480)
        assert info.poster.shape == (480, 270, 3) and info.poster.dtype == np.uint8
        # The poster is the frame at one third, as encoded (up to compression).
        assert np.abs(info.poster.astype(int) - frames[6]).mean() < 3

    def test_moov_comes_before_mdat_for_paths_and_streams(self, tmp_path):
        image, _ = scene()
        path = tmp_path / "clip.mp4"
        render_video(image, path, seconds=1.0, fps=10, size=SIZE)
        data, _ = render(image, seconds=1.0)

        for blob in (path.read_bytes(), data):
            boxes = top_level_boxes(blob)
            assert boxes[0] == "ftyp"
            assert boxes.index("moov") < boxes.index("mdat")
        # The same inputs give the same bytes, whatever the target.
        assert path.read_bytes() == data

    def test_default_size_is_vertical_full_hd(self):
        image, _ = scene(540, 960)
        data, info = render(image, seconds=1.0, fps=30, size=(1080, 1920))

        frames, facts = decode(data)
        assert (facts["width"], facts["height"], facts["rate"]) == (1080, 1920, 30)
        assert len(frames) == info.frames == 30
        assert facts["seconds"] == 1.0

    def test_determinism_and_seed(self):
        image, _ = scene()
        first, _ = render(image, suggestion="pan")
        # An encode in between leaves other memory behind; the bytes must not care.
        render(scene(540, 960)[0], size=(540, 960), seconds=1.0)
        again, _ = render(image, suggestion="pan")
        # The seed picks the pan's direction; find one that pans the other way.
        way = parse_motion("pan", seed=0).direction
        seed = next(s for s in range(1, 50)
                    if parse_motion("pan", seed=s).direction != way)
        other, _ = render(image, suggestion="pan", seed=seed)

        assert first == again
        frames_a, _ = decode(first)
        frames_b, _ = decode(other)
        assert len(frames_a) == len(frames_b)
        assert np.abs(frames_a[-1].astype(int) - frames_b[-1]).mean() > 2


class TestMotion:
    @pytest.mark.parametrize("suggestion",
                             ["", "slow pan left", "orbit", "pull out reveal"])
    def test_moves_without_borders_and_keeps_the_product(self, suggestion):
        image, _ = scene()
        data, _ = render(image, suggestion=suggestion)
        frames, _ = decode(data)

        steps = [np.abs(a.astype(np.int16) - b).mean()
                 for a, b in itertools.pairwise(frames)]
        assert min(steps[2:-2]) > 0.05, "the camera stalls mid-move"
        start = centroid(colour_mask(image, RED))
        for frame in (frames[0], frames[-1]):
            mask = colour_mask(frame, RED)
            assert mask.sum() > 0.7 * colour_mask(image, RED).sum()
            assert np.linalg.norm(centroid(mask) - start) < 0.2 * SIZE[0]
        for frame in frames:
            edges = np.concatenate([frame[0], frame[-1], frame[:, 0], frame[:, -1]])
            assert edges.max(axis=1).min() > 60, "a black border shows"

    def test_push_in_enlarges_and_is_eased(self):
        image, _ = scene()
        frames, _ = decode(render(image, suggestion="push in")[0])

        areas = [colour_mask(f, RED).sum() for f in frames]
        assert areas[-1] > 1.08 * areas[0]
        growth = np.diff(areas)
        # Ease in and out: the middle moves faster than the first and last steps.
        assert growth[len(growth) // 2] > 2 * max(growth[0], growth[-1], 1)

    def test_layers_move_the_product_against_the_background(self):
        image, layers = scene()

        def shifts(suggestion, layers):
            """Horizontal travel, first to last frame, of product and feature."""
            frames = decode(render(image, layers=layers, suggestion=suggestion)[0])[0]
            return [centroid(colour_mask(frames[-1], colour))[0]
                    - centroid(colour_mask(frames[0], colour))[0]
                    for colour in (RED, FEATURE)]

        product, feature = shifts("pan right", None)
        assert abs(product - feature) < 3  # one picture: all moves together
        product, feature = shifts("pan right", layers)
        assert abs(product) > abs(feature) + 6  # the near layer moves faster

        product, feature = shifts("orbit", None)
        assert product * feature > 0
        product, feature = shifts("orbit", layers)
        # Orbiting the product: background and product travel opposite ways.
        assert product * feature < 0 and abs(product - feature) > 12

    @pytest.mark.parametrize("suggestion", ["fast pan right", "fast pan left",
                                            "orbit"])
    def test_pans_keep_a_product_near_the_edge_whole(self, suggestion):
        # A wide photo leaves room to pan; its product sits near the right edge.
        image, layers = scene(600, 480, disc=(0.85, 0.6, 0.07), feature=False)
        whole = colour_mask(image, RED).sum()
        for given in (None, layers):
            frames, _ = decode(render(image, layers=given, suggestion=suggestion,
                                      seconds=3.0)[0])
            for frame in frames:
                mask = colour_mask(frame, RED)
                assert not mask[:, :2].any() and not mask[:, -2:].any()
                assert mask.sum() > 0.9 * whole

    def test_layered_push_starts_on_the_photo_even_when_it_was_graded(self):
        image, layers = scene()
        # A compositor's final grade that its layers do not carry.
        graded = cv2.convertScaleAbs(image, alpha=0.9, beta=12)
        frames, _ = decode(render(graded, layers=layers, suggestion="push")[0])

        assert np.abs(frames[0].astype(int) - graded).mean() < 2.5
        assert np.abs(frames[0].astype(int) - image).mean() > 5  # graded, not raw
        # ... and then it moves: the product grows as the camera pushes in.
        grown = colour_mask(frames[-1], RED).sum() / colour_mask(frames[0], RED).sum()
        assert grown > 1.08


class TestFitting:
    def test_wide_image_is_shown_whole_over_a_blurred_fill(self):
        h, w = 270, 480
        image = np.full((h, w, 3), 200, np.uint8)
        image[:, : w // 10] = (200, 30, 30)  # both edges carry a colour that a
        image[:, -w // 10:] = (30, 30, 200)  # cover crop would cut away
        cv2.circle(image, (w // 2, h // 2), 40, (30, 150, 40), -1)
        frames, _ = decode(render(image, seconds=1.0)[0])

        frame = frames[len(frames) // 2]
        assert colour_mask(frame, (200, 30, 30), 40).sum() > 200
        assert colour_mask(frame, (30, 30, 200), 40).sum() > 200
        assert colour_mask(frame, (30, 150, 40), 40).sum() > 200

    def test_small_product_on_a_square_photo_is_cover_cropped(self):
        image, _ = scene(400, 400, disc=(0.45, 0.5, 0.08))
        frames, _ = decode(render(image, seconds=1.0)[0])

        # No fill: the frame is the backdrop and product, zoomed to cover.
        for frame in frames:
            mask = colour_mask(frame, RED)
            assert mask.sum() > 1.2 * colour_mask(image, RED).sum()  # fill: ~0.5


class TestReel:
    COLOURS = ((200, 40, 40), (40, 170, 60), (40, 70, 200))

    def tinted(self, colour, w=300, h=400):
        image, layers = scene(w, h, product=(240, 240, 240), backdrop=colour)
        return image, layers

    def test_shows_each_image_in_turn_for_its_time(self):
        items = [self.tinted(c)[0] for c in self.COLOURS]
        out = io.BytesIO()
        info = render_reel(items, out, seconds_per_image=1.0, transition=0.4,
                           fps=10, size=SIZE)

        frames, facts = decode(out.getvalue())
        assert len(frames) == info.frames == 30
        assert facts["seconds"] == info.seconds == 3.0
        for slot, colour in enumerate(self.COLOURS):
            middle = frames[slot * 10 + 5]
            dominant = np.median(middle.reshape(-1, 3), axis=0)
            assert np.argmax(dominant) == np.argmax(colour)
        # The cut is a cross-fade: the frame on it is between both images.
        cut = np.median(frames[10].reshape(-1, 3), axis=0)
        assert cut[0] > 60 and cut[1] > 60

    def test_layers_aspects_and_iterators_are_accepted(self):
        wide, layers = scene(480, 270)
        square = self.tinted(self.COLOURS[1], 300, 300)[0]
        items = iter([(wide, layers), square, (wide, None)])
        out = io.BytesIO()
        info = render_reel(items, out, fps=10, size=SIZE, seconds_per_image=1.0)

        frames, _ = decode(out.getvalue())
        assert len(frames) == info.frames == 30
        assert colour_mask(frames[3], RED).sum() > 200

    @pytest.mark.parametrize("word", ["slide", "wipe"])
    def test_slide_and_wipe_move_across(self, word):
        items = [self.tinted(c)[0] for c in self.COLOURS[:2]]
        out = io.BytesIO()
        render_reel(items, out, suggestion=word, seconds_per_image=1.0,
                    transition=0.4, fps=10, size=SIZE)

        frame = decode(out.getvalue())[0][10]
        left, right = frame[:, :40].reshape(-1, 3), frame[:, -40:].reshape(-1, 3)
        # Old (red) image still on the left; the new (green) one coming in right.
        assert np.median(left, axis=0)[0] > np.median(left, axis=0)[1]
        assert np.median(right, axis=0)[1] > np.median(right, axis=0)[0]

    def test_memory_does_not_grow_with_the_number_of_images(self):
        def peak(count: int) -> int:
            # Images are made as the reel asks for them, like a lazy loader.
            items = (self.tinted(self.COLOURS[i % 3], 400, 600)[0]
                     for i in range(count))
            tracemalloc.start()
            render_reel(items, io.BytesIO(), seconds_per_image=0.5, transition=0.2,
                        fps=10, size=SIZE)
            _, top = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            return top

        two, six = peak(2), peak(6)
        assert six < 1.3 * two, (two, six)

    def test_a_failed_reel_leaves_no_file(self, tmp_path):
        good = self.tinted(self.COLOURS[0])[0]
        target = tmp_path / "reel.mp4"
        with pytest.raises(EngineError, match=r"images\[1\]"):
            render_reel([good, good.astype(np.float32)], target, fps=10, size=SIZE)
        assert list(tmp_path.iterdir()) == []


class TestWords:
    @pytest.mark.parametrize("text, kind", [
        ("", "push"), ("slow push-in", "push"), ("zoom", "push"),
        ("zoom out", "pull"), ("Reveal the product", "pull"), ("pan", "pan"),
        ("drift left", "pan"), ("3D parallax", "orbit"), ("orbit around", "orbit"),
    ])
    def test_motion_words(self, text, kind):
        assert parse_motion(text, seed=0).kind == kind

    def test_direction_and_strength(self):
        slow = parse_motion("slow pan left", seed=0)
        fast = parse_motion("fast pan right", seed=0)
        assert (slow.direction, fast.direction) == (-1, 1)
        assert slow.strength < 1 < fast.strength

    def test_reel_cycles_moves_without_motion_words(self):
        kinds = {parse_motion("", seed=0, index=i, default=None).kind
                 for i in range(4)}
        assert kinds == {"push", "pan", "pull"}

    def test_transition_words(self):
        assert parse_transition("") == "crossfade"
        assert parse_transition("quick slide") == "slide"
        assert parse_transition("soft wipe") == "wipe"
        assert parse_transition("slow push-in") == "crossfade"


class TestValidation:
    @pytest.mark.parametrize("options, field", [
        ({"seconds": 0.5}, "seconds"), ({"seconds": 31}, "seconds"),
        ({"seconds": float("nan")}, "seconds"), ({"fps": 0}, "fps"),
        ({"fps": 61}, "fps"), ({"fps": 2.5}, "fps"), ({"size": (271, 480)}, "size"),
        ({"size": (270, 2162)}, "size"), ({"size": (8, 480)}, "size"),
        ({"size": "big"}, "size"), ({"suggestion": None}, "suggestion"),
        ({"seed": 1.5}, "seed"),
    ])
    def test_bad_options_name_the_field(self, options, field):
        image, _ = scene()
        with pytest.raises(EngineError, match=field):
            render_video(image, io.BytesIO(), **options)

    @pytest.mark.parametrize("make, field", [
        (lambda i, l: (i.astype(np.float32), None), "dtype"),
        (lambda i, l: (i[..., 0], None), "shape"),
        (lambda i, l: (np.dstack([i, i[..., :1]]), None), "shape"),
        (lambda i, l: (i, (l[0], l[0])), "layers.foreground"),
        (lambda i, l: (i, (l[0][:100], l[1])), "layers.background"),
        (lambda i, l: (i, (l[0],)), "layers"),
    ])
    def test_bad_images_name_the_problem(self, make, field):
        image, layers = make(*scene())
        with pytest.raises(EngineError, match=field):
            render_video(image, io.BytesIO(), layers=layers, fps=10, size=SIZE)

    def test_bad_reels_and_outputs(self, tmp_path):
        image, _ = scene()
        with pytest.raises(EngineError, match="images"):
            render_reel([], io.BytesIO())
        with pytest.raises(EngineError, match="transition"):
            render_reel([image], io.BytesIO(), seconds_per_image=1.0, transition=0.6)
        with pytest.raises(EngineError, match="images"):  # 11 x 30 s > 300 s
            render_reel(iter([image] * 11), io.BytesIO(), seconds_per_image=30,
                        fps=1, size=SIZE)
        with pytest.raises(EngineError, match="out"):
            render_video(image, 42, fps=10, size=SIZE)
        with pytest.raises(EngineError, match="out"):
            render_video(image, tmp_path / "missing" / "x.mp4", fps=10, size=SIZE)

    def test_inputs_are_not_mutated(self):
        image, (background, foreground) = scene()
        copies = [a.copy() for a in (image, background, foreground)]
        render(image, layers=(background, foreground), suggestion="orbit")
        for before, after in zip(copies, (image, background, foreground)):
            assert np.array_equal(before, after)
