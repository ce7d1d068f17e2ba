"""``lightbox render``: real image files out, one-line errors with status 2."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from lightbox.engine.cli import render_app

runner = CliRunner()


@pytest.fixture
def product_file(tmp_path):
    rgba = np.zeros((240, 200, 4), np.uint8)
    rgba[40:220, 60:140] = (200, 40, 50, 255)
    path = tmp_path / "product.png"
    Image.fromarray(rgba, "RGBA").save(path)
    return path


def decode(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


class TestWrites:
    def test_scenery_jpeg(self, tmp_path):
        out = tmp_path / "plate.jpg"
        result = runner.invoke(render_app, ["scenery", "warm marble table top",
                                            "-o", str(out), "--width", "300",
                                            "--height", "200", "--seed", "2"])
        assert result.exit_code == 0, result.output
        img = decode(out)
        assert img.shape == (200, 300, 3)
        assert img.std() > 2  # a picture, not a flat fill

    def test_packshot_png_on_a_colour(self, product_file, tmp_path):
        out = tmp_path / "pack.png"
        result = runner.invoke(render_app, ["packshot", str(product_file), "-o",
                                            str(out), "--size", "400",
                                            "--background", "#e0f0ff"])
        assert result.exit_code == 0, result.output
        img = decode(out)
        assert img.shape == (400, 400, 3)
        assert np.abs(img[5, 5].astype(int) - (0xE0, 0xF0, 0xFF)).max() <= 3
        red = (np.abs(img.astype(int) - (200, 40, 50)).sum(axis=2) < 40).sum()
        assert red > 2000

    def test_mannequin_png_keeps_transparency(self, tmp_path):
        out = tmp_path / "form.png"
        result = runner.invoke(render_app, ["mannequin", "slim matte black", "-o",
                                            str(out), "--seed", "3"])
        assert result.exit_code == 0, result.output
        with Image.open(out) as image:
            rgba = np.asarray(image.convert("RGBA"))
        assert rgba[0, 0, 3] == 0  # the corner is background
        assert (rgba[..., 3] == 255).mean() > 0.05

    def test_shoot_count_writes_numbered_files(self, product_file, tmp_path):
        out = tmp_path / "shots" / "shot.png"
        result = runner.invoke(render_app, [
            "shoot", str(product_file), "-o", str(out), "--count", "2",
            "--long-side", "384", "--suggestions", "bright airy", "--seed", "4"])
        assert result.exit_code == 0, result.output
        first, second = (decode(tmp_path / "shots" / f"shot-{i}.png") for i in (1, 2))
        assert max(first.shape[:2]) == max(second.shape[:2]) == 384
        assert first.shape != second.shape or np.abs(
            first.astype(int) - second).mean() > 3
        # The red product is in the picture.
        red = (np.abs(first.astype(int) - (200, 40, 50)).sum(axis=2) < 60).sum()
        assert red > 1000

    def test_shoot_on_a_scenery_photo(self, product_file, tmp_path):
        plate = tmp_path / "room.jpg"
        grad = np.linspace(90, 220, 300, dtype=np.uint8)[:, None, None]
        Image.fromarray(np.broadcast_to(grad, (300, 450, 3)).copy()).save(plate)
        out = tmp_path / "shot.jpg"
        result = runner.invoke(render_app, [
            "shoot", str(product_file), "-o", str(out), "--scenery", str(plate),
            "--long-side", "320"])
        assert result.exit_code == 0, result.output
        assert max(decode(out).shape[:2]) == 320


class TestErrors:
    def run_error(self, args):
        result = runner.invoke(render_app, args)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:")
        return lines[0]

    def test_missing_input(self, tmp_path):
        line = self.run_error(["shoot", str(tmp_path / "nope.png"),
                               "-o", str(tmp_path / "o.jpg")])
        assert "nope.png" in line

    def test_unknown_output_format(self, product_file, tmp_path):
        line = self.run_error(["shoot", str(product_file),
                               "-o", str(tmp_path / "o.gif")])
        assert ".gif" in line or "o.gif" in line

    def test_not_an_image(self, tmp_path):
        bad = tmp_path / "notes.png"
        bad.write_text("hello")
        self.run_error(["shoot", str(bad), "-o", str(tmp_path / "o.jpg")])

    def test_conflicting_options(self, product_file, tmp_path):
        line = self.run_error(["shoot", str(product_file), "-o",
                               str(tmp_path / "o.jpg"), "--scenery-text", "beach",
                               "--scenery", str(product_file)])
        assert "not both" in line

    def test_transparent_jpeg_packshot(self, product_file, tmp_path):
        line = self.run_error(["packshot", str(product_file), "-o",
                               str(tmp_path / "p.jpg"), "--transparent"])
        assert "JPEG" in line
