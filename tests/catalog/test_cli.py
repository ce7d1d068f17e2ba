"""``lightbox products add/list`` against a data directory."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated

import typer
from factories import image_bytes
from media.hostile import TEXT_AS_JPEG, exif_rotated_jpeg
from PIL import Image
from typer.testing import CliRunner

from lightbox.accounts.cli import teams_app
from lightbox.catalog.cli import products_app
from lightbox.config import Settings
from lightbox.db import Database
from lightbox.media.storage import open_storage

runner = CliRunner()

# The same shape as the ``lightbox`` root command (--data-dir, then sub-apps);
# built here so these tests depend only on the commands they exercise.
app = typer.Typer()
app.add_typer(teams_app, name="teams")
app.add_typer(products_app, name="products")


@app.callback()
def main(
    ctx: typer.Context,
    data_dir: Annotated[Path | None, typer.Option("--data-dir")] = None,
) -> None:
    ctx.ensure_object(dict)


def run(data_dir, *args):
    return runner.invoke(app, ["--data-dir", str(data_dir), *args],
                         catch_exceptions=False)


def test_add_and_list(tmp_path):
    data_dir = tmp_path / "data"
    team = run(data_dir, "teams", "create", "acme")
    assert team.exit_code == 0, team.output
    photo = tmp_path / "Red Bottle.jpg"
    photo.write_bytes(exif_rotated_jpeg((600, 400)))

    added = run(data_dir, "products", "add", "--team", "acme", str(photo))
    named = run(data_dir, "products", "add", "--team", "acme", str(photo),
                "--name", "Hero")

    assert added.exit_code == 0, added.output
    product_id, name = added.output.strip().splitlines()[-1].split("\t")
    assert product_id.startswith("prod_") and name == "Red Bottle"
    assert named.output.strip().split("\t")[1] == "Hero"

    listed = run(data_dir, "products", "list", "--team", "acme")
    rows = [line.split("\t") for line in listed.output.strip().splitlines()]
    assert [r[1] for r in rows] == ["Hero", "Red Bottle"]
    assert rows[1][0] == product_id and rows[1][2] == "400x600"

    # The files are where the API will serve them from.
    settings = Settings(data_dir=data_dir)
    db = Database(settings.resolved_database_url)
    from lightbox.catalog.models import Product

    with db.session() as session:
        product = session.get(Product, product_id)
        thumb = open_storage(settings).get(product.thumb_key)
    db.dispose()
    assert Image.open(io.BytesIO(thumb)).size == (400, 600)


def test_bad_input_fails_with_a_message(tmp_path):
    data_dir = tmp_path / "data"
    run(data_dir, "teams", "create", "acme")
    text = tmp_path / "notes.jpg"
    text.write_bytes(TEXT_AS_JPEG)
    good = tmp_path / "ok.png"
    good.write_bytes(image_bytes("PNG", (64, 64)))

    not_image = run(data_dir, "products", "add", "--team", "acme", str(text))
    no_team = run(data_dir, "products", "add", "--team", "nobody", str(good))
    no_file = run(data_dir, "products", "add", "--team", "acme",
                  str(tmp_path / "missing.jpg"))

    assert not_image.exit_code == 2
    assert "file: not an image: the data is text" in not_image.output
    assert no_team.exit_code == 2 and "Team not found: nobody" in no_team.output
    assert no_file.exit_code == 2 and "cannot read" in no_file.output
