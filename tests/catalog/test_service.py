"""catalog.service and catalog.presets called directly: lookups other packages
use (get_product, get_preset, product_cutout) and the system preset seeding."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from factories import image_bytes
from PIL import Image

from lightbox.accounts import service as accounts
from lightbox.catalog import service
from lightbox.catalog.models import Preset
from lightbox.catalog.presets import SYSTEM_PRESETS, ensure_system_presets
from lightbox.errors import BadRequest, Forbidden, NotFound
from lightbox.media.uploads import validate_image
from lightbox.migrate import upgrade


class ThresholdEngine:
    """A small real cutout: pixels far from the backdrop's grey are the product.

    Counts its calls, so the tests can see when the cache is used instead.
    """

    def __init__(self) -> None:
        self.calls = 0

    def cutout(self, image: np.ndarray) -> np.ndarray:
        self.calls += 1
        rgb = image[..., :3].astype(int)
        distance = np.abs(rgb - 180).sum(axis=2)
        alpha = np.where(distance > 120, 255, 0).astype(np.uint8)
        return np.dstack([image[..., :3], alpha])


@pytest.fixture
def db(runtime):
    upgrade(runtime.db)
    return runtime.db


@pytest.fixture
def team_ids(db):
    with db.session() as session:
        return [accounts.create_team(session, name=f"t{i}").id for i in range(2)]


def add(db, storage, team_id, data=None, name="Bottle"):
    upload = validate_image(data or image_bytes("JPEG", (400, 400)), field="file",
                            max_pixels=10**7)
    with db.session() as session:
        product = service.add_product(session, storage, team_id=team_id,
                                      upload=upload, name=name)
        session.expunge(product)
    return product


class TestGetProduct:
    def test_found_only_for_its_team_and_while_live(self, db, runtime, team_ids):
        mine, other = team_ids
        product = add(db, runtime.storage, mine)

        with db.session() as session:
            found = service.get_product(session, team_id=mine, product_id=product.id)
            assert found.id == product.id
            for team, pid in ((other, product.id), (mine, "prod_missing"),
                              (mine, None), (mine, 42), (mine, "")):
                with pytest.raises(NotFound) as info:
                    service.get_product(session, team_id=team, product_id=pid)
                assert info.value.message == "Product not found: config.product.id"

        with db.session() as session:
            service.delete_product(session, team_id=mine, product_id=product.id)
        with db.session() as session, pytest.raises(
            NotFound, match="Product not found: productId"
        ):
            service.get_product(session, team_id=mine, product_id=product.id,
                                field="productId")


class TestRenameProduct:
    def test_rename_checks_the_name_then_the_owner(self, db, runtime, team_ids):
        mine, other = team_ids
        product = add(db, runtime.storage, mine, name="Old")

        with db.session() as session:
            renamed = service.rename_product(session, team_id=mine,
                                             product_id=product.id,
                                             name="  New \n name ")
            assert renamed.name == "New name"
            for bad, message in (("", "name: must not be empty"),
                                 ("x" * 201, "name: must be at most 200 characters")):
                with pytest.raises(BadRequest) as info:
                    service.rename_product(session, team_id=other,
                                           product_id=product.id, name=bad)
                assert info.value.message == message
            with pytest.raises(NotFound, match="^Product not found: id$"):
                service.rename_product(session, team_id=other,
                                       product_id=product.id, name="Stolen")


class TestFilesFollowTheTransaction:
    def test_rolled_back_upload_leaves_no_files(self, db, runtime, team_ids):
        root = runtime.storage.root / "teams" / team_ids[0]
        upload = validate_image(image_bytes("PNG", (200, 200), alpha=True),
                                field="file", max_pixels=10**7)

        with pytest.raises(RuntimeError), db.session() as session:
            product = service.add_product(session, runtime.storage,
                                          team_id=team_ids[0], upload=upload,
                                          name="Doomed")
            written = [product.original_key, product.thumb_key, product.cutout_key]
            assert all(runtime.storage.exists(k) for k in written)
            raise RuntimeError("the request fails after the upload")

        assert not any(runtime.storage.exists(k) for k in written)
        assert not any(p.is_file() for p in root.rglob("*"))

    def test_committed_upload_keeps_its_files_through_later_rollbacks(
        self, db, runtime, team_ids
    ):
        product = add(db, runtime.storage, team_ids[0])

        with pytest.raises(RuntimeError), db.session() as session:
            service.get_product(session, team_id=team_ids[0], product_id=product.id)
            raise RuntimeError("an unrelated later failure")

        assert runtime.storage.exists(product.original_key)
        assert runtime.storage.exists(product.thumb_key)

    def test_rolled_back_preset_leaves_no_files(self, db, runtime, team_ids):
        cover = validate_image(image_bytes("JPEG", (100, 100)), field="cover",
                               max_pixels=10**7)
        with pytest.raises(RuntimeError), db.session() as session:
            preset = service.create_preset(
                session, runtime.storage, team_id=team_ids[0], name="P",
                quantity_guidelines="one", quality_guidelines="warm",
                cover=cover, gallery=[cover],
            )
            keys = [preset.cover_key, *preset.gallery_keys]
            raise RuntimeError("rolled back")

        assert len(keys) == 2
        assert not any(runtime.storage.exists(k) for k in keys)


class TestProductCutout:
    def test_computed_once_stored_then_loaded(self, db, runtime, team_ids):
        engine = ThresholdEngine()
        product = add(db, runtime.storage, team_ids[0],
                      image_bytes("PNG", (300, 300), color=(200, 40, 40)))

        with db.session() as session:
            row = service.get_product(session, team_id=team_ids[0],
                                      product_id=product.id)
            first = service.product_cutout(session, runtime.storage, engine, row)
        with db.session() as session:
            row = service.get_product(session, team_id=team_ids[0],
                                      product_id=product.id)
            assert row.cutout_key == (
                f"teams/{team_ids[0]}/products/{product.id}/cutout.png"
            )
            second = service.product_cutout(session, runtime.storage, engine, row)

        assert engine.calls == 1
        assert first.shape == (300, 300, 4)
        assert np.array_equal(first, second)
        # The bottle's body is opaque, the backdrop corner transparent.
        assert first[200, 150, 3] == 255 and first[5, 5, 3] == 0
        stored = np.asarray(Image.open(io.BytesIO(runtime.storage.get(row.cutout_key))))
        assert np.array_equal(stored, first)

    def test_an_alpha_upload_never_runs_the_engine(self, db, runtime, team_ids):
        engine = ThresholdEngine()
        data = image_bytes("PNG", (300, 300), alpha=True)
        product = add(db, runtime.storage, team_ids[0], data)

        with db.session() as session:
            row = service.get_product(session, team_id=team_ids[0],
                                      product_id=product.id)
            cutout = service.product_cutout(session, runtime.storage, engine, row)

        assert engine.calls == 0
        source = np.asarray(Image.open(io.BytesIO(data)))
        assert np.array_equal(cutout[..., 3], source[..., 3])

    def test_a_cutout_stored_by_another_worker_is_adopted(self, db, runtime,
                                                          team_ids):
        first_engine, second_engine = ThresholdEngine(), ThresholdEngine()
        product = add(db, runtime.storage, team_ids[0])

        # Worker A computes it but its transaction is rolled back...
        with pytest.raises(RuntimeError), db.session() as session:
            row = service.get_product(session, team_id=team_ids[0],
                                      product_id=product.id)
            service.product_cutout(session, runtime.storage, first_engine, row)
            raise RuntimeError("worker A dies before commit")

        # ...worker B finds the file at the fixed key and records it.
        with db.session() as session:
            row = service.get_product(session, team_id=team_ids[0],
                                      product_id=product.id)
            assert row.cutout_key is None
            service.product_cutout(session, runtime.storage, second_engine, row)
            assert row.cutout_key is not None
        assert (first_engine.calls, second_engine.calls) == (1, 0)

    def test_with_the_embedded_engine(self, db, runtime, team_ids):
        product = add(db, runtime.storage, team_ids[0],
                      image_bytes("JPEG", (512, 512), color=(30, 60, 200)))
        with db.session() as session:
            row = service.get_product(session, team_id=team_ids[0],
                                      product_id=product.id)
            started = time.perf_counter()
            cutout = service.product_cutout(session, runtime.storage,
                                            runtime.engine, row)
            elapsed = time.perf_counter() - started

        # The engine trims to the product: the bottle is 30% x 70% of the photo.
        height, width = cutout.shape[:2]
        assert abs(width - 0.30 * 512) < 20 and abs(height - 0.70 * 512) < 20
        alpha = cutout[..., 3]
        assert alpha[int(height * 0.7), width // 2] > 200  # inside the body
        assert alpha[5, 5] < 30  # beside the neck: backdrop
        assert elapsed < 15  # includes loading the network once


class TestPresets:
    def test_ensure_system_presets_is_idempotent_and_refreshes_text(self, db):
        with db.session() as session:
            created_first = ensure_system_presets(session)
        with db.session() as session:
            session.get(Preset, SYSTEM_PRESETS[0].id).guidelines = "stale"
            created_again = ensure_system_presets(session)
        with db.session() as session:
            rows = session.query(Preset).filter(Preset.team_id.is_(None)).all()
            refreshed = session.get(Preset, SYSTEM_PRESETS[0].id).guidelines

        # The app's start-up may already have seeded them.
        assert created_first in (0, len(SYSTEM_PRESETS))
        assert created_again == 0
        assert len(rows) == len(SYSTEM_PRESETS)
        assert refreshed.startswith("Bright, clean white studio")

    def test_get_preset_visibility(self, db, runtime, team_ids):
        mine, other = team_ids
        with db.session() as session:
            ensure_system_presets(session)
            own = service.create_preset(
                session, runtime.storage, team_id=mine, name="Own",
                quantity_guidelines="two", quality_guidelines="warm wood",
            )
            own_id = own.id

        with db.session() as session:
            system = service.get_preset(session, team_id=other,
                                        preset_id=SYSTEM_PRESETS[1].id)
            assert system.is_system and system.name == "Dark luxury"
            assert service.get_preset(session, team_id=mine,
                                      preset_id=own_id).name == "Own"
            with pytest.raises(NotFound, match=r"^Preset not found: config.preset.id$"):
                service.get_preset(session, team_id=other, preset_id=own_id)
            with pytest.raises(Forbidden):
                service.update_preset(session, team_id=mine,
                                      preset_id=SYSTEM_PRESETS[1].id, name="x")
