"""POST /models and POST /sceneries: the team's own photos as ready records."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from conftest import test_settings
from factories import image_bytes
from PIL import Image
from sqlalchemy import func, select

from lightbox.credits.models import LedgerEntry
from lightbox.generation.models import Order, Record


@pytest.fixture
def settings(tmp_path):
    return test_settings(tmp_path / "data", workers=0,
                         max_upload_bytes=400_000, max_upload_pixels=2_000_000)


def room_photo(size=(480, 320)) -> bytes:
    """A lit wall over a darker floor, the seam at 60% of the height (JPEG)."""
    width, height = size
    falloff = np.linspace(1.0, 0.7, width)[None, :, None]
    room = np.ones((height, 1, 1)) * np.array([214, 204, 188], float) * falloff
    room[int(height * 0.6):] = np.array([120, 92, 70], float) * falloff
    buffer = io.BytesIO()
    Image.fromarray(room.clip(0, 255).astype(np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


def post(team, path: str, *, data: bytes | None, filename: str = "photo.png",
         name: str | None = None, expect: int = 200) -> dict:
    files = {"file": (filename, data)} if data is not None else None
    form = {"name": name} if name is not None else {"other": "x"}
    response = team.client.post(path, files=files, data=form)
    assert response.status_code == expect, response.text
    return response.json()


def fetch_image(url: str) -> Image.Image:
    # No API key: media URLs are signed, as an <img> tag needs.
    response = httpx.get(url)
    assert response.status_code == 200
    return Image.open(io.BytesIO(response.content))


def money_and_orders(team) -> tuple:
    with team.session() as session:
        return (
            team.client.get("/credits").json()["balance"],
            session.scalar(select(func.count()).select_from(Order)
                           .where(Order.team_id == team.team_id)),
            session.scalar(select(func.count()).select_from(LedgerEntry)
                           .where(LedgerEntry.team_id == team.team_id)),
        )


class TestModelUpload:
    def test_created_done_approved_and_free(self, api):
        before = money_and_orders(api)

        body = post(api, "/models", data=image_bytes("PNG", alpha=True),
                    name="Studio model")

        model = body["model"]
        assert model["id"].startswith("model_")
        assert (model["name"], model["status"], model["voting"]) == (
            "Studio model", "DONE", "APPROVED"
        )
        assert model["orderId"] is None
        assert money_and_orders(api) == before
        approved = api.client.get("/models", params={"statusFilter": "approved"})
        assert [m["id"] for m in approved.json()["models"]] == [model["id"]]

        # The photo keeps its transparency; the thumbnail is a web-sized JPEG.
        full = fetch_image(model["imageUrl"])
        assert (full.format, full.mode, full.size) == ("PNG", "RGBA", (640, 640))
        alpha = np.asarray(full)[..., 3]
        assert alpha[0, 0] == 0 and alpha[320, 320] == 255
        assert fetch_image(model["thumbnail"]).format == "JPEG"
        with api.session() as session:
            record = session.get(Record, model["id"])
            assert (record.kind, record.price, record.settled) == ("model", 0, True)
            assert record.params["source"] == "upload"

    def test_name_defaults_to_the_file_name(self, api):
        body = post(api, "/models", data=image_bytes("JPEG"),
                    filename="anna-side.jpg")

        assert body["model"]["name"] == "anna-side"
        assert fetch_image(body["model"]["imageUrl"]).format == "JPEG"


class TestSceneryUpload:
    def test_metadata_is_estimated_from_the_photo(self, api):
        body = post(api, "/sceneries", data=room_photo(), filename="loft.jpg")

        scenery = body["scenery"]
        assert scenery["id"].startswith("scn_")
        assert (scenery["name"], scenery["status"], scenery["voting"]) == (
            "loft", "DONE", "APPROVED"
        )
        assert fetch_image(scenery["imageUrl"]).size == (480, 320)
        with api.session() as session:
            meta = session.get(Record, scenery["id"]).meta
        # The drawn seam is at 0.6 of the height; objects stand below it.
        assert 0.5 <= meta["horizon_y"] <= 0.7
        assert meta["horizon_y"] < meta["floor_y"] <= 0.95
        assert {"azimuth", "elevation", "softness"} <= set(meta["light"])

    def test_transparent_png_is_flattened(self, api):
        body = post(api, "/sceneries", data=image_bytes("PNG", alpha=True))

        image = fetch_image(body["scenery"]["imageUrl"])
        assert (image.format, image.mode) == ("JPEG", "RGB")


class TestErrors:
    def test_missing_file_and_not_an_image(self, api):
        for path in ("/models", "/sceneries"):
            missing = post(api, path, data=None, expect=400)
            not_image = post(api, path, data=b"GIF89a but not really", expect=415)

            assert missing == {"error": "file: required"}
            assert not_image["error"].startswith("file: ")
            assert api.client.get(path).json()["count"] == 0

    def test_too_many_bytes(self, api):
        noise = np.random.default_rng(0).integers(0, 256, (400, 400, 3), np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(noise).save(buffer, "PNG")
        assert len(buffer.getvalue()) > 400_000

        body = post(api, "/models", data=buffer.getvalue(), expect=413)

        assert body["error"].startswith("file: upload too large")

    def test_too_many_pixels(self, api):
        body = post(api, "/sceneries", data=image_bytes("JPEG", size=(2000, 1500)),
                    expect=413)
        assert body["error"].startswith("file: ")

    def test_read_only_key(self, make_team):
        team = make_team(scopes="content.read")

        body = post(team, "/models", data=image_bytes("PNG"), expect=403)

        assert body == {"error": "Missing required scope: 'content.register'."}

    def test_other_teams_do_not_see_uploads(self, make_team):
        alice, bob = make_team(), make_team()
        post(alice, "/models", data=image_bytes("PNG"))
        post(alice, "/sceneries", data=room_photo())

        for path in ("/models", "/sceneries"):
            assert alice.client.get(path).json()["count"] == 1
            assert bob.client.get(path).json()["count"] == 0


class TestCli:
    def test_add_and_list_from_the_shell(self, api, settings, tmp_path):
        from typer.testing import CliRunner

        from lightbox.cli import app

        photo = tmp_path / "studio-wall.jpg"
        photo.write_bytes(room_photo())
        # The same instance as the server: its data dir and, in the scaled
        # mode, its database, queue and object store.
        runner = CliRunner(env={
            f"LIGHTBOX_{name.upper()}": getattr(settings, name)
            for name in ("database_url", "queue_url", "media_url", "redis_url",
                         "secret_key")
            if getattr(settings, name)
        })
        base = ["--data-dir", str(settings.data_dir)]

        added = runner.invoke(app, [*base, "sceneries", "add", str(photo),
                                    "--team", api.team_id])
        listed = runner.invoke(app, [*base, "sceneries", "list", "--team",
                                     api.team_id, "--status-filter", "approved"])
        bad = runner.invoke(app, [*base, "models", "add", str(tmp_path / "none.png"),
                                  "--team", api.team_id])

        assert added.exit_code == 0, added.output
        record_id, name = added.output.strip().splitlines()[-1].split("\t")
        assert name == "studio-wall"
        assert listed.output.strip().splitlines()[-1].split("\t")[:4] == [
            record_id, "studio-wall", "DONE", "APPROVED",
        ]
        assert bad.exit_code == 2
        over_http = api.client.get("/sceneries").json()["sceneries"]
        assert [s["id"] for s in over_http] == [record_id]


class TestRollback:
    def test_an_upload_whose_transaction_rolls_back_leaves_no_files(self, runtime):
        from lightbox.accounts import service as accounts
        from lightbox.generation import service
        from lightbox.media.uploads import validate_image
        from lightbox.migrate import upgrade

        upgrade(runtime.db)
        with runtime.db.session() as session:
            team_id = accounts.create_team(session, name="rollback").id
        upload = validate_image(room_photo(), field="file", max_pixels=10**7)
        written: list[str] = []

        with pytest.raises(RuntimeError), runtime.db.session() as session:
            for upload_kind in (service.upload_model, service.upload_scenery):
                extra = (runtime.engine,) if upload_kind is service.upload_scenery \
                    else ()
                record = upload_kind(session, runtime.storage, *extra,
                                     team_id=team_id, upload=upload, name="x")
                written += [record.image_key, record.thumb_key]
                assert runtime.storage.exists(record.image_key)
            raise RuntimeError("the request failed after the upload")

        assert len(written) == 4
        assert not any(runtime.storage.exists(key) for key in written)
        with runtime.db.session() as session:
            assert session.scalar(select(func.count()).select_from(Record)) == 0
