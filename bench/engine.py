"""Engine benchmark: timings and peak memory per kind of render, against targets.

    python bench/engine.py [--repeat N] [--no-memory]

Timings run in this process, after one warm-up call (the cutout model is loaded
by then; a photo-shoot gets a cached cutout and a rendered scenery and figure, as
the platform stores them). Peak memory is measured per kind in a fresh
subprocess: the growth of the resident set's high-water mark over one render,
after its inputs are prepared.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from lightbox.engine import EmbeddedEngine, get_engine
from lightbox.engine.types import PackshotOptions, ShootSpec

GiB = 1024 ** 3
TARGETS_S = {"cutout": 1.5, "packshot": 0.3, "scenery": 0.3, "mannequin": 0.3,
             "shoot": 0.3}
SHOOT_INDUSTRIES = ("electronics", "cosmetics", "food", "furniture", "fashion")


def product_photo(size: int = 1024, seed: int = 0) -> np.ndarray:
    """A shaded bottle on a mottled backdrop: something for the cutout to find."""
    rng = np.random.default_rng(seed)
    img = np.empty((size, size, 3), np.float32)
    img[:] = (214, 204, 188)
    img *= 1 + 0.04 * cv2.resize(rng.normal(size=(24, 24)).astype(np.float32),
                                 (size, size))[..., None]
    mask = np.zeros((size, size), np.uint8)
    cx = size // 2
    cv2.rectangle(mask, (cx - size // 7, size // 3), (cx + size // 7, int(size * 0.85)),
                  255, -1)
    cv2.rectangle(mask, (cx - size // 20, size // 6), (cx + size // 20, size // 3),
                  255, -1)
    xs = np.clip((np.arange(size) - cx) / (size / 7), -1, 1)
    shade = (0.45 + 0.55 * np.sqrt(1 - xs ** 2))[None, :, None]
    bottle = np.array((30, 80, 190), np.float32) * shade
    img = np.where(mask[..., None] > 0, bottle, img)
    img += rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _prepare(kind: str, engine):
    """A zero-argument callable rendering one ``kind`` (inputs ready)."""
    if kind == "cutout":
        photo = product_photo()
        engine.cutout(product_photo(seed=1))  # loads the shared model
        # A fresh engine has an empty cutout cache but shares the loaded model.
        return lambda: EmbeddedEngine().cutout(photo)
    cut = engine.cutout(product_photo())
    if kind == "packshot":
        options = PackshotOptions(size=(2000, 2000))
        return lambda: engine.packshot(cut, options=options, seed=1)
    if kind == "scenery":
        return lambda: engine.scenery("warm marble table top, soft light", seed=2,
                                      size=(1536, 1024))
    if kind == "mannequin":
        return lambda: engine.mannequin("matte white female mannequin", seed=2,
                                        size=(1024, 1536))
    if kind.startswith("shoot:"):
        industry = kind.split(":", 1)[1]
        plate = engine.scenery("bright studio", seed=3)
        figure = engine.mannequin("white mannequin", seed=3) \
            if industry == "fashion" else None
        counter = iter(range(10 ** 6))
        return lambda: engine.shoot(ShootSpec(
            product=cut, scenery=plate, figure=figure, industry=industry,
            suggestions="soft light", seed=1, variant=next(counter) % 5,
            long_side=1536))
    raise SystemExit(f"unknown kind {kind!r}")


def kinds() -> list[str]:
    return ["cutout", "packshot", "scenery", "mannequin",
            *(f"shoot:{i}" for i in SHOOT_INDUSTRIES)]


def time_kind(kind: str, engine, repeat: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds per run. CPU time (all threads) is what a busy
    machine cannot inflate by time-slicing; on an idle one wall <= CPU."""
    run: Callable = _prepare(kind, engine)
    run()  # warm-up
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def peak_memory(kind: str) -> tuple[int, int]:
    """(rss, traced) bytes for one render of ``kind`` in a fresh interpreter: the
    growth of the resident high-water mark from after the imports (so it counts
    the inputs and the loaded model too), and tracemalloc's peak during the render
    alone (NumPy buffers; OpenCV's internal scratch is not traced)."""
    out = subprocess.run([sys.executable, __file__, "--child", kind],
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return int(result["rss_bytes"]), int(result["traced_bytes"])


def _high_water() -> int:
    """Peak resident bytes of this process's address space. /proc's VmHWM starts
    afresh at exec, unlike getrusage's ru_maxrss, which a child inherits from the
    (larger) parent that spawned it."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _child(kind: str) -> None:
    before = _high_water()
    engine = get_engine()
    run = _prepare(kind, engine)
    tracemalloc.start()
    run()
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"rss_bytes": _high_water() - before, "traced_bytes": traced}))


def main() -> None:
    parser = argparse.ArgumentParser(description="Lightbox engine benchmark")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return

    engine = get_engine()
    header = (f"{'render':<20}{'median':>9}{'p90':>9}{'cpu':>9}{'target':>9}{'':>5}"
              f"{'rss MiB':>9}{'traced':>8}{'':>5}")
    print(header)
    print("-" * len(header))
    failed = False
    for kind in kinds():
        times, cpu = time_kind(kind, engine, args.repeat)
        times = sorted(times)
        median = statistics.median(times)
        p90 = times[min(int(round(0.9 * (len(times) - 1))), len(times) - 1)]
        target = TARGETS_S[kind.split(":")[0]]
        ok_time = median <= target
        rss, traced = (None, None) if args.no_memory else peak_memory(kind)
        ok_mem = rss is None or rss < GiB
        failed |= not (ok_time and ok_mem)
        mem = "-" if rss is None else f"{rss / 2 ** 20:.0f}{traced / 2 ** 20:>8.0f}"
        print(f"{kind:<20}{median * 1e3:>7.0f}ms{p90 * 1e3:>7.0f}ms"
              f"{statistics.median(cpu) * 1e3:>7.0f}ms"
              f"{target * 1e3:>7.0f}ms{'ok' if ok_time else 'FAIL':>5}"
              f"{mem:>17}{'ok' if ok_mem else 'FAIL':>5}")
    print(f"\n{args.repeat} runs each after a warm-up; median and p90 are wall "
          "clock, cpu the median CPU time of all threads. rss: growth of the process's "
          "peak resident memory over imports (inputs and model included), target "
          "< 1024 MiB; traced: tracemalloc peak of the render alone.")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
