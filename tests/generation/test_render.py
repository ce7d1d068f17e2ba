"""What each kind of record renders into: the files, their formats and the meta.

Records are registered through the real service and rendered by calling the
task directly (no consumer threads), so each test is synchronous. Every file is
decoded from storage.
"""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from factories import image_bytes
from PIL import Image
from sqlalchemy import delete, func, select

from lightbox.accounts import service as accounts
from lightbox.catalog import service as catalog
from lightbox.catalog.models import Product
from lightbox.credits import service as credits
from lightbox.credits.models import LedgerEntry
from lightbox.engine.types import Figure, Scenery
from lightbox.generation import render, tasks
from lightbox.generation import service as generation
from lightbox.generation.models import DONE, FAILED, Record
from lightbox.generation.schemas import IdeasRequest, PackshotRequest, ShootRequest
from lightbox.media.uploads import validate_image
from lightbox.migrate import upgrade
from lightbox.runtime import build_runtime


class Spy:
    """The real engine, remembering each call's arguments."""

    name = "spy"

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls: list[tuple[str, tuple]] = []
        self.lock = threading.Lock()

    def __getattr__(self, method):
        target = getattr(self.inner, method)

        def call(*args, **kwargs):
            with self.lock:
                self.calls.append((method, args))
            return target(*args, **kwargs)

        return call

    def count(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)


class Shop:
    """A runtime with tables, one team with credits and one product; no consumers."""

    def __init__(self, settings) -> None:
        self.rt = build_runtime(settings)
        self.engine = Spy(self.rt.engine)
        self.rt.engine = self.engine
        upgrade(self.rt.db)
        with self.rt.db.session() as session:
            self.team_id = accounts.create_team(session, name="Shop").id
            credits.grant(session, team_id=self.team_id, amount=1000)
            self.product_id = catalog.add_product(
                session, self.rt.storage, team_id=self.team_id,
                upload=self.upload(image_bytes("PNG", size=(400, 400), alpha=True)),
                name="Bottle",
            ).id

    def upload(self, data: bytes):
        return validate_image(data, field="file",
                              max_pixels=self.rt.settings.max_upload_pixels)

    def register(self, kind: str, body: dict) -> list[str]:
        schema = {"model": IdeasRequest, "scenery": IdeasRequest,
                  "packshot": PackshotRequest, "image": ShootRequest}[kind]
        with self.rt.db.session() as session:
            registration = generation.register(
                session, team_id=self.team_id, kind=kind,
                body=schema.model_validate(body),
                price_each=getattr(self.rt.settings.prices, kind),
                queue=self.rt.queue,
            )
            return [record.id for record in registration.records]

    def make(self, kind: str, body: dict) -> Record:
        """Register one record and render it synchronously."""
        (record_id,) = self.register(kind, {**body, "count": 1})
        tasks.render_record(self.rt, record_id)
        return self.record(record_id)

    def record(self, record_id: str) -> Record:
        with self.rt.db.session() as session:
            return session.get_one(Record, record_id)

    def file(self, key: str) -> Image.Image:
        image = Image.open(io.BytesIO(self.rt.storage.get(key)))
        image.load()
        return image

    def released(self) -> int:
        with self.rt.db.session() as session:
            return session.scalar(
                select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                    LedgerEntry.team_id == self.team_id, LedgerEntry.kind == "release"
                )
            )


@pytest.fixture
def shop(settings):
    shop = Shop(settings)
    yield shop
    shop.rt.close()


def product_config(shop: Shop, **extra) -> dict:
    return {"config": {"product": {"id": shop.product_id}, **extra}}


class TestKinds:
    def test_model_is_a_transparent_png_with_keypoints_and_a_light_thumbnail(
        self, shop
    ):
        record = shop.make("model", {"preferences": "slim white mannequin"})

        assert record.status == DONE
        assert record.image_key.endswith(f"/records/{record.id}/image.png")
        image = shop.file(record.image_key)
        alpha = np.asarray(image)[..., 3]
        assert image.mode == "RGBA"
        assert alpha[0, 0] == 0 and (alpha == 255).mean() > 0.05
        figure = Figure.from_meta(np.asarray(image), record.meta)
        assert {"head_top", "waist"} <= set(figure.keypoints)

        thumb = np.asarray(shop.file(record.thumb_key)).astype(int)
        assert max(thumb.shape[:2]) <= 640
        # The corner is backdrop: light grey, not white, not black.
        assert np.abs(thumb[2, 2] - render.MODEL_BACKDROP).max() <= 4

    def test_scenery_is_a_jpeg_with_its_compositing_meta(self, shop):
        record = shop.make("scenery", {"preferences": "warm wooden table top"})

        image = shop.file(record.image_key)
        assert (image.format, image.size) == ("JPEG", (1536, 1024))
        scenery = Scenery.from_meta(np.asarray(image), record.meta)
        assert 0 < scenery.horizon_y <= scenery.floor_y < 1
        assert record.meta["light"]["azimuth"] == scenery.light.azimuth
        assert np.asarray(image).std() > 5

    def test_packshot_centres_the_product_on_white(self, shop):
        record = shop.make("packshot", product_config(shop))

        pixels = np.asarray(shop.file(record.image_key)).astype(int)
        assert record.status == DONE
        border = np.concatenate([pixels[:20], pixels[-20:]]).reshape(-1, 3)
        assert np.median(border, axis=0).min() >= 245
        h, w = pixels.shape[:2]
        centre = pixels[h // 3: 2 * h // 3, w // 3: 2 * w // 3]
        # The product is red: plenty of strongly red pixels in the middle.
        assert ((centre[..., 0] - centre[..., 1]) > 80).mean() > 0.1

    def test_shoot_uses_the_scenery_model_and_preset_and_keeps_layers(self, shop):
        scenery = shop.make("scenery", {"preferences": "dark marble studio"})
        model = shop.make("model", {"preferences": "female mannequin"})
        with shop.rt.db.session() as session:
            preset = catalog.create_preset(
                session, shop.rt.storage, team_id=shop.team_id, name="Moody",
                quality_guidelines="dark moody warm light",
                quantity_guidelines="one product per image",
            )
            preset_id, guidelines = preset.id, preset.guidelines

        record = shop.make("image", product_config(
            shop, scenery={"id": scenery.id}, model={"id": model.id},
            preset={"id": preset_id}, industry="fashion",
            suggestions="close framing",
        ))

        assert record.status == DONE
        (spec,) = [args[0] for name, args in shop.engine.calls if name == "shoot"]
        assert spec.scenery.floor_y == scenery.meta["floor_y"]
        assert spec.figure.keypoints["neck"] == tuple(model.meta["keypoints"]["neck"])
        assert spec.guidelines == guidelines and "moody" in guidelines
        assert (spec.industry, spec.suggestions) == ("fashion", "close framing")
        assert spec.seed == record.params["seed"]
        image = shop.file(record.image_key)
        background = shop.file(record.layers["background"])
        foreground = shop.file(record.layers["foreground"])
        assert image.size == background.size == foreground.size
        assert foreground.mode == "RGBA"
        assert record.meta["shot"]["industry"] == "fashion"

    def test_an_uploaded_model_photo_is_cut_out_once_and_cached(self, shop):
        with shop.rt.db.session() as session:
            model = generation.upload_model(
                session, shop.rt.storage, team_id=shop.team_id,
                upload=shop.upload(image_bytes("JPEG", size=(400, 600), seed=3)),
                name="Our model",
            )
            model_id = model.id

        first = shop.make("image", product_config(shop, model={"id": model_id}))
        second = shop.make("image", product_config(shop, model={"id": model_id}))

        assert (first.status, second.status) == (DONE, DONE)
        assert shop.engine.count("figure_from_photo") == 1
        cached = shop.record(model_id)
        assert "neck" in cached.meta["keypoints"]
        assert shop.file(cached.layers["figure"]).mode == "RGBA"


class TestMissingInputs:
    def test_a_deleted_product_still_renders(self, shop):
        (record_id,) = shop.register("packshot", {**product_config(shop), "count": 1})
        with shop.rt.db.session() as session:
            catalog.delete_product(session, team_id=shop.team_id,
                                   product_id=shop.product_id)

        tasks.render_record(shop.rt, record_id)

        assert shop.record(record_id).status == DONE

    def test_a_vanished_scenery_fails_at_once_and_releases_credits(self, shop):
        scenery = shop.make("scenery", {"preferences": "beach at sunset"})
        (record_id,) = shop.register(
            "image", {**product_config(shop, scenery={"id": scenery.id}), "count": 1}
        )
        with shop.rt.db.session() as session:
            session.execute(delete(Record).where(Record.id == scenery.id))

        tasks.render_record(shop.rt, record_id)

        record = shop.record(record_id)
        assert (record.status, record.attempts) == (FAILED, 1)
        assert record.error == "The scenery of this record no longer exists."
        assert shop.released() == 30 and shop.engine.count("shoot") == 0

    def test_a_vanished_product_fails_with_a_clear_error(self, shop):
        (record_id,) = shop.register("packshot", {**product_config(shop), "count": 1})
        with shop.rt.db.session() as session:
            session.execute(delete(Product).where(Product.id == shop.product_id))

        tasks.render_record(shop.rt, record_id)

        record = shop.record(record_id)
        assert (record.status, record.attempts) == (FAILED, 1)
        assert record.error == "The product of this record no longer exists."
        assert shop.released() == 10

    def test_a_kind_without_a_renderer_fails_cleanly(self, shop):
        with shop.rt.db.session() as session:
            session.add(Record(id="img_hologram", team_id=shop.team_id,
                               kind="hologram", name="?", params={"seed": 1}))

        tasks.render_record(shop.rt, "img_hologram")

        record = shop.record("img_hologram")
        assert (record.status, record.attempts) == (FAILED, 1)
        assert record.error == "Records of kind 'hologram' cannot be rendered here."
