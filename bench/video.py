"""Speed and memory of the video engine: ``python bench/video.py``.

Prints medians of a 5 s 1080x1920 video at 30 fps (target: at most 10 s on the
2-core reference machine), with and without parallax layers; the cost per frame
of the two ways to hand frames to x264; and the peak traced memory of a reel of
3 and of 10 images, which must stay about the same (frames are streamed).
The inputs are real photo-shoot composites from the embedded compositor.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
import tracemalloc

import av
import cv2
import numpy as np

from lightbox.engine.compose import render_shoot
from lightbox.engine.types import ShootSpec
from lightbox.engine.video import render_reel, render_video

COLOURS = ((30, 90, 200), (200, 50, 40), (40, 160, 70), (230, 180, 40))
SUGGESTIONS = ("marble table top warm", "outdoor beach sunset", "studio pastel",
               "wooden table soft light")


def bottle(colour) -> np.ndarray:
    product = np.zeros((800, 400, 4), np.uint8)
    cv2.rectangle(product, (60, 250), (340, 780), (*colour, 255), -1)
    cv2.rectangle(product, (150, 60), (250, 260), (*colour, 255), -1)
    cv2.rectangle(product, (140, 20), (260, 80), (20, 20, 20, 255), -1)
    cv2.rectangle(product, (90, 400), (310, 600), (240, 240, 230, 255), -1)
    cv2.putText(product, "LUX", (120, 530), cv2.FONT_HERSHEY_DUPLEX, 2.2,
                (*colour, 255), 4)
    return product


def shot(index: int):
    spec = ShootSpec(product=bottle(COLOURS[index % 4]),
                     suggestions=SUGGESTIONS[index % 4], seed=index, variant=index)
    return render_shoot(spec)


def timed(function, repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds (CPU counts x264's threads too)."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def bench_video(repeats: int) -> None:
    photo = shot(0)
    layers = (photo.background, photo.foreground)
    for label, options in (
        ("push, no layers", {}),
        ("push, layers", {"layers": layers}),
        ("orbit, layers", {"layers": layers, "suggestion": "orbit"}),
        ("pan, no layers", {"suggestion": "pan"}),
    ):
        out = io.BytesIO()

        def run(out=out, options=options):
            out.seek(0)
            out.truncate()
            render_video(photo.image, out, **options)

        wall, cpu = timed(run, repeats)
        mbit = len(out.getvalue()) * 8 / 5.0 / 1e6
        print(f"video 5 s 1080x1920 30 fps, {label:16s}: median {wall:5.2f} s "
              f"(cpu {cpu:5.2f} s), {mbit:4.1f} Mbit/s")


def bench_conversion() -> None:
    rng = np.random.default_rng(0)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (1920, 1080, 3), np.uint8),
                             (0, 0), 4)

    def opencv():
        yuv = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)
        av.VideoFrame.from_ndarray(yuv, format="yuv420p")

    def swscale():
        av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p")

    for label, function in (("cv2.cvtColor I420", opencv),
                            ("rgb24 + swscale", swscale)):
        wall, _ = timed(lambda f=function: [f() for _ in range(30)], 3)
        print(f"RGB->YUV per 1080x1920 frame, {label:17s}: {wall / 30 * 1e3:5.1f} ms")


def bench_reel_memory() -> None:
    def peak(count: int) -> tuple[float, float]:
        # Shots are composed as the reel asks for them, like a lazy loader.
        items = ((s.image, (s.background, s.foreground))
                 for s in (shot(i) for i in range(count)))
        tracemalloc.start()
        wall = time.perf_counter()
        render_reel(items, io.BytesIO(), seconds_per_image=1.0, transition=0.4)
        wall = time.perf_counter() - wall
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top / 2**20, wall

    for count in (3, 10):
        top, wall = peak(count)
        print(f"reel of {count:2d} layered images, 1 s each, 1080x1920: "
              f"peak traced memory {top:6.1f} MiB, {wall:5.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    bench_video(args.repeats)
    bench_conversion()
    bench_reel_memory()


if __name__ == "__main__":
    main()
