"""Products through real HTTP: upload, list, delete, and hostile uploads."""

from __future__ import annotations

import io
import time

import httpx
import numpy as np
import pytest
from conftest import test_settings
from factories import image_bytes
from media.hostile import (
    TEXT_AS_JPEG,
    alpha_png,
    cmyk_jpeg,
    exif_rotated_jpeg,
    png16,
    png_bomb,
    truncated_jpeg,
)
from PIL import Image

from lightbox.catalog.models import Product
from lightbox.media.storage import LocalStorage


def upload(client: httpx.Client, data: bytes, filename: str = "bottle.jpg",
           name: str | None = None, content_type: str = "image/jpeg"):
    form = {"name": name} if name is not None else {}
    return client.post("/products", files={"file": (filename, data, content_type)},
                       data=form)


def fetch_image(url: str) -> Image.Image:
    response = httpx.get(url)
    assert response.status_code == 200, response.text
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


def stored_product(api, product_id: str) -> Product:
    with api.session() as session:
        product = session.get(Product, product_id)
        session.expunge(product)
        return product


class TestUpload:
    def test_upload_then_list_and_fetch_the_thumbnail(self, api):
        data = image_bytes("JPEG", (1200, 900), color=(30, 160, 60))

        response = upload(api.client, data, "Green Bottle.jpg")

        assert response.status_code == 200, response.text
        product = response.json()["product"]
        assert product["id"].startswith("prod_") and len(product["id"]) == 27
        assert product["name"] == "Green Bottle"
        assert product["status"] == "UPLOADED"
        assert (product["width"], product["height"]) == (1200, 900)
        assert product["createdAt"].endswith("Z") and len(product["createdAt"]) == 24
        assert "voting" not in product

        # The thumbnail is a real web-sized JPEG of the photo, fetched without a key.
        thumb = fetch_image(product["thumbnail"])
        assert (thumb.format, thumb.size) == ("JPEG", (640, 480))
        body = np.asarray(thumb)[int(480 * 0.7), 320].astype(int)
        assert body[1] > 120 and body[0] < 90  # the green bottle, not the backdrop

        # The original is kept byte for byte.
        assert httpx.get(product["imageUrl"]).content == data

        listed = api.client.get("/products").json()
        assert listed["count"] == 1
        assert listed["products"][0]["id"] == product["id"]
        assert set(listed["products"][0]) >= {"id", "name", "thumbnail", "status",
                                               "createdAt"}
        assert "nextCursor" not in listed

    def test_name_field_is_trimmed_and_bounded(self, api):
        data = image_bytes("PNG", (200, 200))
        named = upload(api.client, data, "x.png", name="  Summer   Tote ",
                       content_type="image/png").json()["product"]
        longest = upload(api.client, data, "x.png", name="N" * 200,
                         content_type="image/png").json()["product"]
        too_long = upload(api.client, data, "x.png", name="N" * 201,
                          content_type="image/png")
        long_file = upload(api.client, data, "F" * 230 + ".png",
                           content_type="image/png").json()["product"]
        blank = upload(api.client, data, "folder/Blue Cap.png", name="   ",
                       content_type="image/png").json()["product"]

        assert named["name"] == "Summer Tote"
        assert longest["name"] == "N" * 200
        assert (too_long.status_code, too_long.json()) == (
            400, {"error": "name: must be at most 200 characters"}
        )
        assert long_file["name"] == "F" * 200  # a file name is cut, not refused
        assert blank["name"] == "Blue Cap"

    def test_png_alpha_is_stored_as_the_cutout_at_once(self, api, runtime):
        data = alpha_png((400, 400))
        product = upload(api.client, data, "cut.png",
                         content_type="image/png").json()["product"]

        row = stored_product(api, product["id"])
        assert row.cutout_key == f"teams/{api.team_id}/products/{row.id}/cutout.png"
        cutout = np.asarray(Image.open(io.BytesIO(runtime.storage.get(row.cutout_key))))
        source = np.asarray(Image.open(io.BytesIO(data)))
        assert cutout.shape == (400, 400, 4)
        assert np.array_equal(cutout[..., 3], source[..., 3])

    def test_opaque_jpeg_has_no_cutout_yet(self, api):
        product = upload(api.client, image_bytes()).json()["product"]
        assert stored_product(api, product["id"]).cutout_key is None

    def test_exif_rotation_swaps_the_stored_size(self, api):
        product = upload(api.client, exif_rotated_jpeg((600, 400))).json()["product"]

        assert (product["width"], product["height"]) == (400, 600)
        row = stored_product(api, product["id"])
        assert (row.width, row.height) == (400, 600)
        thumb = fetch_image(product["thumbnail"])
        assert thumb.size == (400, 600)
        assert np.asarray(thumb)[300, -5, 0] > 180  # the red band, now on the right

    def test_cmyk_jpeg_and_16_bit_png_are_accepted(self, api):
        cmyk = upload(api.client, cmyk_jpeg((320, 240))).json()["product"]
        deep = upload(api.client, png16((300, 200)), "ramp.png",
                      content_type="image/png").json()["product"]

        thumb = np.asarray(fetch_image(cmyk["thumbnail"])).astype(int)
        assert thumb[120, 40, 0] < 60 and thumb[120, 40, 2] > 200  # cyan half
        ramp = np.asarray(fetch_image(deep["thumbnail"]))[100, :, 0].astype(int)
        assert ramp[0] < 10 and ramp[-1] > 245 and 110 < ramp[150] < 145

    def test_products_are_free(self, api):
        before = api.client.get("/credits").json()["available"]
        upload(api.client, image_bytes())
        assert api.client.get("/credits").json()["available"] == before


class TestRefusedUploads:
    def test_missing_file(self, api):
        response = api.client.post("/products", data={"name": "nothing"})
        assert (response.status_code, response.json()) == (
            400, {"error": "file: required"}
        )

    def test_text_named_jpg(self, api):
        response = upload(api.client, TEXT_AS_JPEG, "photo.jpg")
        assert response.status_code == 415
        assert response.json()["error"].startswith(
            "file: not an image: the data is text"
        )

    def test_truncated_jpeg(self, api):
        response = upload(api.client, truncated_jpeg())
        assert response.status_code == 415
        assert response.json()["error"].startswith("file: truncated or corrupt JPEG")

    def test_bomb_header_is_413_fast(self, api):
        started = time.perf_counter()
        response = upload(api.client, png_bomb(), "bomb.png", content_type="image/png")
        elapsed = time.perf_counter() - started

        assert response.status_code == 413
        assert response.json()["error"].startswith(
            "file: image too large: 100000x100000"
        )
        assert elapsed < 1.0

    def test_refused_uploads_leave_nothing_behind(self, api, runtime):
        upload(api.client, TEXT_AS_JPEG)
        upload(api.client, png_bomb(), "bomb.png", content_type="image/png")

        assert api.client.get("/products").json() == {"products": [], "count": 0}
        assert isinstance(runtime.storage, LocalStorage)
        assert not (runtime.storage.root / "teams" / api.team_id).exists()

    def test_scope_content_register_is_needed(self, make_team):
        reader = make_team(scopes=["content.read"])
        response = upload(reader.client, image_bytes())
        assert (response.status_code, response.json()) == (
            403, {"error": "Missing required scope: 'content.register'."}
        )


class TestSizeLimits:
    """An instance with a 200 KB upload limit, so "too large" needs no 25 MB body."""

    @pytest.fixture
    def small(self, tmp_path, launch):
        from lightbox.accounts import service as accounts
        from lightbox.runtime import build_runtime

        settings = test_settings(tmp_path / "small", max_upload_bytes=200 * 1024,
                                 max_upload_pixels=1_000_000, workers=0)
        rt = build_runtime(settings)
        live = launch(rt, start_workers=False)
        with rt.db.session() as session:
            team = accounts.create_team(session, name="small")
            _, raw = accounts.create_api_key(session, team_id=team.id,
                                             secret_key=settings.secret_key)
        client = httpx.Client(base_url=f"{live.url}/api/external",
                              headers={"X-Api-Key": raw}, timeout=30)
        yield client
        client.close()
        live.stop()
        rt.close()

    def test_bytes_over_the_limit(self, small):
        noise = np.random.default_rng(1).integers(0, 255, (600, 600, 3), np.uint8)
        buf = io.BytesIO()
        Image.fromarray(noise).save(buf, "PNG")
        assert len(buf.getvalue()) > 200 * 1024

        response = upload(small, buf.getvalue(), "noise.png", content_type="image/png")
        assert (response.status_code, response.json()) == (
            413, {"error": "file: upload too large (max 200 KB)"}
        )

    def test_pixels_over_the_limit(self, small):
        response = upload(small, image_bytes("JPEG", (1200, 1000)))
        assert response.status_code == 413
        assert response.json()["error"] == (
            "file: image too large: 1200x1000 is 1.2 megapixels (maximum 1.0)"
        )

    def test_just_under_both_limits(self, small):
        response = upload(small, image_bytes("JPEG", (1000, 1000)))
        assert response.status_code == 200, response.text


class TestListAndDelete:
    def test_newest_first_and_only_the_teams_own(self, make_team):
        mine, theirs = make_team(), make_team()
        ids = [upload(mine.client, image_bytes(seed=i), f"p{i}.jpg")
               .json()["product"]["id"] for i in range(3)]
        upload(theirs.client, image_bytes(seed=9), "other.jpg")

        listed = mine.client.get("/products").json()
        assert [p["id"] for p in listed["products"]] == ids[::-1]
        assert [p["name"] for p in listed["products"]] == ["p2", "p1", "p0"]
        assert listed["count"] == 3
        assert theirs.client.get("/products").json()["count"] == 1

    def test_pages_with_limit_and_cursor(self, api):
        ids = [upload(api.client, image_bytes("PNG", (64, 64), seed=i), f"{i}.png",
                      content_type="image/png").json()["product"]["id"]
               for i in range(5)]

        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = api.client.get("/products", params=params).json()
            pages += 1
            assert page["count"] == len(page["products"]) <= 2
            seen += [p["id"] for p in page["products"]]
            cursor = page.get("nextCursor")
            if not cursor:
                break

        assert seen == ids[::-1]
        assert pages == 3

    def test_bad_paging_parameters(self, api):
        for params, message in (
            ({"limit": 0}, "limit: must be an integer between 1 and 1000"),
            ({"limit": 1001}, "limit: must be an integer between 1 and 1000"),
            ({"limit": "two"}, "limit: "),
            ({"cursor": "not-a-cursor"}, "cursor: not a cursor from this list"),
        ):
            response = api.client.get("/products", params=params)
            assert response.status_code == 400, params
            assert response.json()["error"].startswith(message)

    def test_delete_hides_the_product(self, api):
        product = upload(api.client, image_bytes()).json()["product"]

        response = api.client.delete(f"/products/{product['id']}")

        assert (response.status_code, response.json()) == (200, {"success": True})
        assert api.client.get("/products").json()["count"] == 0
        # Deleted products keep their files: records made from them stay viewable.
        assert httpx.get(product["thumbnail"]).status_code == 200
        again = api.client.delete(f"/products/{product['id']}")
        assert (again.status_code, again.json()) == (
            404, {"error": "Product not found: id"}
        )

    def test_another_teams_product_is_not_found(self, make_team):
        owner, stranger = make_team(), make_team()
        product = upload(owner.client, image_bytes()).json()["product"]

        for product_id in (product["id"], "prod_doesnotexist00000000000"):
            response = stranger.client.delete(f"/products/{product_id}")
            assert (response.status_code, response.json()) == (
                404, {"error": "Product not found: id"}
            )
        assert owner.client.get("/products").json()["count"] == 1
