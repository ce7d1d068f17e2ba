"""Presets through real HTTP, and the system presets' content."""

from __future__ import annotations

import io

import httpx
from factories import image_bytes
from media.hostile import TEXT_AS_JPEG
from PIL import Image

from lightbox.catalog.models import Preset
from lightbox.catalog.presets import SYSTEM_PRESETS, system_preset_id
from lightbox.engine.words import parse_style

FIELDS = {"id", "name", "guidelines", "quantityGuidelines", "qualityGuidelines",
          "createdAt"}


def create(client: httpx.Client, *, files=None, **fields) -> httpx.Response:
    form = {"name": "Marble flatlay", "quantityGuidelines": "Three angles per product",
            "qualityGuidelines": "Dark marble, soft side light"}
    form.update(fields)
    form = {k: v for k, v in form.items() if v is not None}
    return client.post("/presets", data=form, files=files or {})


class TestList:
    def test_system_presets_are_visible_to_every_team(self, make_team):
        first, second = make_team(), make_team()
        for team in (first, second):
            body = team.client.get("/presets").json()
            assert body["count"] == len(SYSTEM_PRESETS) == len(body["presets"])
            assert [p["name"] for p in body["presets"]] == [
                s.name for s in SYSTEM_PRESETS
            ]
            for preset in body["presets"]:
                assert set(preset) >= FIELDS
                assert preset["system"] is True
                assert preset["createdAt"].endswith("Z")
            assert body["presets"][0]["id"] == system_preset_id("clean-ecommerce")

    def test_team_presets_come_first_newest_first_and_stay_private(self, make_team):
        mine, theirs = make_team(), make_team()
        a = create(mine.client, name="A").json()["presetId"]
        b = create(mine.client, name="B").json()["presetId"]
        create(theirs.client, name="Theirs")

        presets = mine.client.get("/presets").json()["presets"]
        assert [p["id"] for p in presets[:2]] == [b, a]
        assert [p["system"] for p in presets] == [False, False] + [True] * len(
            SYSTEM_PRESETS
        )
        assert "Theirs" not in {p["name"] for p in presets}

    def test_max_records(self, api):
        for i in range(3):
            create(api.client, name=f"P{i}")

        body = api.client.get("/presets", params={"maxRecords": 2}).json()
        assert body["count"] == 2
        assert [p["name"] for p in body["presets"]] == ["P2", "P1"]
        assert api.client.get("/presets").json()["count"] == 3 + len(SYSTEM_PRESETS)

    def test_max_records_must_be_an_integer_from_1_to_100(self, api):
        for value in ("0", "101", "-1"):
            response = api.client.get("/presets", params={"maxRecords": value})
            assert (response.status_code, response.json()) == (
                400, {"error": "maxRecords: must be an integer between 1 and 100"}
            ), value
        for value in ("abc", "1.5", "true"):
            response = api.client.get("/presets", params={"maxRecords": value})
            assert response.status_code == 400, value
            assert response.json()["error"].startswith("maxRecords: ")


class TestCreate:
    def test_create_combines_the_guidelines(self, api):
        response = create(api.client, name="  Moody  ",
                          qualityGuidelines="Dark, moody marble",
                          quantityGuidelines="Two close-ups per product")

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["success"] is True and body["presetId"].startswith("preset_")

        preset = api.client.get("/presets").json()["presets"][0]
        assert preset["id"] == body["presetId"]
        assert preset["name"] == "Moody"
        assert preset["qualityGuidelines"] == "Dark, moody marble"
        assert preset["quantityGuidelines"] == "Two close-ups per product"
        assert preset["guidelines"] == "Dark, moody marble\n\nTwo close-ups per product"
        style = parse_style(preset["guidelines"])
        assert style.brightness < 0 and style.material == "marble"

    def test_each_text_field_is_required(self, api):
        for missing in ("name", "quantityGuidelines", "qualityGuidelines"):
            for value in (None, "   "):
                response = create(api.client, **{missing: value})
                assert (response.status_code, response.json()) == (
                    400, {"error": f"{missing}: required"}
                )
        assert api.client.get("/presets").json()["count"] == len(SYSTEM_PRESETS)

    def test_cover_and_gallery_are_stored_and_served(self, api):
        cover = image_bytes("JPEG", (300, 200), seed=1)
        gallery = [image_bytes("PNG", (100, 100), seed=2),
                   image_bytes("WEBP", (120, 90), seed=3)]
        files = [("cover", ("cover.jpg", cover, "image/jpeg"))] + [
            ("gallery", (f"g{i}", data, "application/octet-stream"))
            for i, data in enumerate(gallery)
        ]

        preset_id = create(api.client, files=files).json()["presetId"]

        preset = api.client.get("/presets").json()["presets"][0]
        assert preset["id"] == preset_id
        assert httpx.get(preset["coverUrl"]).content == cover
        assert [httpx.get(u).content for u in preset["galleryUrls"]] == gallery
        with api.session() as session:
            row = session.get(Preset, preset_id)
            assert row.cover_key.endswith("/cover.jpg")
            assert [k.rsplit("/", 1)[1] for k in row.gallery_keys] == [
                "gallery-00.png", "gallery-01.webp"
            ]

    def test_a_bad_cover_is_415_and_creates_nothing(self, api):
        files = {"cover": ("cover.jpg", TEXT_AS_JPEG, "image/jpeg")}
        response = create(api.client, files=files)

        assert response.status_code == 415
        assert response.json()["error"].startswith("cover: not an image")
        assert api.client.get("/presets").json()["count"] == len(SYSTEM_PRESETS)

    def test_a_bad_gallery_photo_names_the_field(self, api):
        files = [("gallery", ("a.png", image_bytes("PNG", (64, 64)), "image/png")),
                 ("gallery", ("b.jpg", b"\xff\xd8\xff\xe0broken", "image/jpeg"))]
        response = create(api.client, files=files)
        assert response.status_code == 415
        assert response.json()["error"].startswith("gallery: ")


class TestUpdate:
    def test_update_changes_only_the_given_fields(self, api):
        preset_id = create(api.client).json()["presetId"]

        response = api.client.post("/presets/update-preset", json={
            "presetId": preset_id, "qualityGuidelines": "Bright white studio",
            "unknownField": 1,
        })

        assert (response.status_code, response.json()) == (
            200, {"success": True, "presetId": preset_id}
        )
        preset = api.client.get("/presets").json()["presets"][0]
        assert preset["name"] == "Marble flatlay"
        assert preset["qualityGuidelines"] == "Bright white studio"
        assert preset["guidelines"] == "Bright white studio\n\nThree angles per product"

    def test_system_presets_are_read_only(self, api):
        preset_id = system_preset_id("dark-luxury")
        response = api.client.post("/presets/update-preset",
                                   json={"presetId": preset_id, "name": "Mine now"})
        assert (response.status_code, response.json()) == (
            403, {"error": "System presets cannot be changed: presetId"}
        )
        names = [p["name"] for p in api.client.get("/presets").json()["presets"]]
        assert "Dark luxury" in names and "Mine now" not in names

    def test_unknown_or_another_teams_preset_is_not_found(self, make_team):
        owner, stranger = make_team(), make_team()
        preset_id = create(owner.client).json()["presetId"]

        for target in (preset_id, "preset_nope"):
            response = stranger.client.post("/presets/update-preset",
                                            json={"presetId": target, "name": "x"})
            assert (response.status_code, response.json()) == (
                404, {"error": "Preset not found: presetId"}
            )

    def test_bad_bodies(self, api):
        for body, message in (
            ({}, "presetId: required"),
            ({"presetId": 12}, "presetId: "),
            ({"presetId": "preset_x", "name": "  "}, "name: required"),
        ):
            response = api.client.post("/presets/update-preset", json=body)
            assert response.status_code == 400, body
            assert response.json()["error"].startswith(message)


class TestSystemPresetContent:
    """The shipped guidelines must steer the engine, not just read well."""

    def styles(self):
        return {s.slug: parse_style(s.quality, s.quantity) for s in SYSTEM_PRESETS}

    def test_each_names_a_setting_a_light_and_a_framing(self):
        for slug, style in self.styles().items():
            assert style.setting, slug
            assert style.lighting, slug
            assert style.framing, slug
            assert len(style.words) >= 8, slug

    def test_they_differ_where_their_names_say(self):
        s = self.styles()
        assert s["clean-ecommerce"].brightness > 0.5 > s["dark-luxury"].brightness
        assert s["dark-luxury"].material == "marble"
        assert s["warm-natural"].warmth > 0.5
        assert s["warm-natural"].material == "wood"
        assert s["summer-outdoor"].setting == "outdoor"
        assert s["clean-ecommerce"].setting == "studio"
        assert s["editorial-fashion"].contrast > 0.5
        assert len({(v.setting, v.place, v.material, v.lighting) for v in s.values()}
                   ) == len(s)

    def test_ids_are_stable_and_well_formed(self):
        ids = [s.id for s in SYSTEM_PRESETS]
        assert len(set(ids)) == len(ids)
        for preset_id in ids:
            assert preset_id.startswith("preset_") and len(preset_id) == 29
            assert preset_id[7:].isalnum()
        assert system_preset_id("clean-ecommerce") == "preset_tARtJhnbIkwjrU0Zons11R"


def test_cover_thumbnail_is_a_real_image(api):
    cover = image_bytes("PNG", (200, 150), seed=4)
    create(api.client, files={"cover": ("c.png", cover, "image/png")})
    url = api.client.get("/presets").json()["presets"][0]["coverUrl"]
    image = Image.open(io.BytesIO(httpx.get(url).content))
    assert (image.format, image.size) == ("PNG", (200, 150))
