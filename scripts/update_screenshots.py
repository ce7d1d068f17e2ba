"""Refresh docs/screenshots/ from a run of the workspace's end-to-end test.

Runs tests/web/test_e2e.py with LIGHTBOX_SCREENSHOTS pointed at a temporary
folder, then copies the main pages into docs/screenshots/ as palette PNGs
(256 colours), which keeps each file well under 200 KB for the README.

    python scripts/update_screenshots.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "docs" / "screenshots"
PAGES = ("setup-desktop", "products-desktop", "products-phone", "sceneries-desktop",
         "shoot-desktop", "order-desktop", "order-phone", "picker-desktop",
         "picker-phone", "keys-desktop", "credits-desktop")
MAX_BYTES = 200 * 1024


def shrink(source: Path, target: Path) -> int:
    """Write ``source`` as a 256-colour PNG; fewer colours if still too big."""
    with Image.open(source) as image:
        rgb = image.convert("RGB")
    for colours in (256, 128, 64):
        rgb.quantize(colors=colours, method=Image.Quantize.MEDIANCUT,
                     dither=Image.Dither.NONE).save(target, optimize=True)
        if target.stat().st_size <= MAX_BYTES:
            break
    return target.stat().st_size


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        env = dict(os.environ, LIGHTBOX_SCREENSHOTS=folder)
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "tests/web/test_e2e.py", "-q", "-x"],
            check=False, cwd=REPO, env=env,
        )
        if result.returncode != 0:
            print("the end-to-end test failed; screenshots left as they were")
            return result.returncode

        TARGET.mkdir(parents=True, exist_ok=True)
        for name in PAGES:
            size = shrink(Path(folder) / f"{name}.png", TARGET / f"{name}.png")
            print(f"{name}.png\t{size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
