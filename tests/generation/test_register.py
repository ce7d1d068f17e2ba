"""POST /*/register-ideas over real HTTP: bodies, referenced ids, credits, records.

The server runs without queue consumers (``workers=0``) so records stay
INPROGRESS and the queue's depth shows what was enqueued.
"""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import test_settings
from factories import image_bytes
from PIL import Image
from sqlalchemy import func, select

from lightbox.credits.models import LedgerEntry
from lightbox.generation.models import Order, Record

PRICES = {"image": 30, "packshot": 10, "model": 10, "scenery": 10}
BAD_SEED = "config.seed: must be an integer between 0 and 9007199254740991"
REGISTER = {
    "model": "/models/register-ideas",
    "scenery": "/sceneries/register-ideas",
    "packshot": "/packshots/register-ideas",
    "image": "/image-picker/register-ideas",
}


@pytest.fixture
def settings(tmp_path):
    # No consumers: what registration enqueues stays queued, records INPROGRESS.
    return test_settings(tmp_path / "data", workers=0)


# Helpers -----------------------------------------------------------------------


def add_product(team, *, name: str = "White T-Shirt", seed: int = 0) -> str:
    response = team.client.post(
        "/products",
        files={"file": (f"{name}.jpg", image_bytes("JPEG", seed=seed), "image/jpeg")},
        data={"name": name},
    )
    assert response.status_code == 200, response.text
    return response.json()["product"]["id"]


def room_photo(size=(480, 320), *, seed: int = 0) -> bytes:
    """A wall over a floor with a clear seam and light from the left (JPEG)."""
    width, height = size
    rng = np.random.default_rng(seed)
    x = np.linspace(1.0, 0.75, width)[None, :, None]
    wall = np.array([214, 204, 188], float) * x * np.ones((height, 1, 1))
    seam = int(height * 0.6)
    wall[seam:] = np.array([120, 92, 70], float) * x
    wall += rng.normal(0, 3, wall.shape)
    buffer = io.BytesIO()
    Image.fromarray(wall.clip(0, 255).astype(np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


def upload(team, kind: str, *, name: str | None = None, data: bytes | None = None,
           filename: str = "upload.png") -> dict:
    """POST /models or /sceneries; the created record as the API returns it."""
    path = {"model": "/models", "scenery": "/sceneries"}[kind]
    if data is None:
        data = image_bytes("PNG", alpha=True) if kind == "model" else room_photo()
    form = {"name": name} if name is not None else {}
    response = team.client.post(path, files={"file": (filename, data)}, data=form)
    assert response.status_code == 200, response.text
    return response.json()[kind]


def register(team, kind: str, body: dict, *, expect: int = 200):
    response = team.client.post(REGISTER[kind], json=body)
    assert response.status_code == expect, response.text
    return response.json()


def counts(team) -> tuple[int, int, int]:
    """How many orders, records and ledger entries the team has."""
    with team.session() as session:
        return tuple(
            session.scalar(
                select(func.count()).select_from(table).where(
                    table.team_id == team.team_id
                )
            )
            for table in (Order, Record, LedgerEntry)
        )


def credits(team) -> dict:
    response = team.client.get("/credits")
    assert response.status_code == 200, response.text
    body = response.json()
    return {key: body[key] for key in ("balance", "reserved", "available")}


# Happy paths ------------------------------------------------------------------


class TestRegisterIdeas:
    def test_models_create_order_records_and_reservation(self, api, runtime):
        body = register(api, "model", {
            "preferences": "slim matte white mannequin, standing pose", "count": 3,
        })

        assert set(body) == {
            "createdRecordIds", "batchId", "orderId", "reservationId",
            "creditsReserved",
        }
        ids = body["createdRecordIds"]
        assert len(ids) == len(set(ids)) == 3
        assert all(i.startswith("model_") and len(i) == 28 for i in ids)
        assert body["batchId"].startswith("batch_")
        assert body["orderId"].startswith("ord_")
        assert body["reservationId"].startswith("res_")
        assert body["creditsReserved"] == 30
        assert credits(api) == {"balance": 1000, "reserved": 30, "available": 970}
        assert runtime.queue.depth() == 3

        listed = api.client.get("/models").json()
        assert listed["count"] == 3
        assert {m["id"] for m in listed["models"]} == set(ids)
        for model in listed["models"]:
            assert model["status"] == "INPROGRESS"
            assert model["thumbnail"] == ""
            assert model["voting"] is None
            assert "imageUrl" not in model
            assert model["createdAt"].endswith("Z") and len(model["createdAt"]) == 24
        names = sorted(m["name"] for m in listed["models"])
        assert names == [f"Slim matte white mannequin — Variant {n}" for n in (1, 2, 3)]

        with api.session() as session:
            order = session.get(Order, body["orderId"])
            assert (order.kind, order.count, order.price_each) == ("model", 3, 10)
            assert order.batch_id == body["batchId"]
            assert order.reservation_id == body["reservationId"]
            records = session.scalars(
                select(Record).where(Record.order_id == order.id)
            ).all()
            assert sorted(r.params["variant"] for r in records) == [0, 1, 2]
            seeds = {r.params["seed"] for r in records}
            assert len(seeds) == 3 and all(isinstance(s, int) for s in seeds)
            assert {r.params["preferences"] for r in records} == {
                "slim matte white mannequin, standing pose"
            }
            assert {r.price for r in records} == {10}

    def test_request_id_is_kept_on_the_order(self, api):
        response = api.client.post(REGISTER["model"], json={"preferences": "studio",
                                                            "count": 1},
                                   headers={"X-Request-ID": "req-7f3a"})

        assert response.headers["x-request-id"] == "req-7f3a"
        with api.session() as session:
            order = session.get(Order, response.json()["orderId"])
            assert order.request_id == "req-7f3a"

    def test_sceneries_default_count_is_ten(self, api):
        body = register(api, "scenery", {"preferences": "warm oak tabletop"})

        assert len(body["createdRecordIds"]) == 10
        assert body["creditsReserved"] == 100
        assert all(i.startswith("scn_") for i in body["createdRecordIds"])
        listed = api.client.get("/sceneries").json()
        assert listed["count"] == 10
        assert listed["sceneries"][0]["name"].startswith("Warm oak tabletop — Variant ")

    def test_packshots_are_named_after_the_product(self, api):
        product_id = add_product(api, name="Red Bottle")

        body = register(api, "packshot", {
            "config": {"product": {"id": product_id}}, "count": 2,
        })

        assert body["creditsReserved"] == 20
        listed = api.client.get("/packshots").json()["packshots"]
        assert sorted(p["name"] for p in listed) == [
            "Red Bottle — Variant 1", "Red Bottle — Variant 2",
        ]
        assert {p["productId"] for p in listed} == {product_id}
        assert all(p["id"].startswith("ps_") for p in listed)

    def test_photo_shoot_with_every_reference(self, api):
        product_id = add_product(api)
        scenery = upload(api, "scenery")
        model = upload(api, "model")
        preset_id = api.client.get("/presets").json()["presets"][0]["id"]

        body = register(api, "image", {
            "config": {
                "product": {"id": product_id},
                "scenery": {"id": scenery["id"]},
                "model": {"id": model["id"]},
                "preset": {"id": preset_id},
                "industry": "fashion",
                "suggestions": "bright lighting, clean composition",
                "seed": 1234,
            },
            "count": 3,
            "someFieldWeDoNotKnow": {"is": "ignored"},
        })

        assert body["creditsReserved"] == 90
        with api.session() as session:
            records = session.scalars(
                select(Record).where(Record.order_id == body["orderId"])
            ).all()
        by_variant = sorted(records, key=lambda r: r.params["variant"])
        assert [r.params["seed"] for r in by_variant] == [1234, 1235, 1236]
        params = by_variant[0].params
        assert params["product_id"] == product_id
        assert params["scenery_id"] == scenery["id"]
        assert params["model_id"] == model["id"]
        assert params["preset_id"] == preset_id
        assert params["industry"] == "fashion"
        assert params["suggestions"] == "bright lighting, clean composition"
        assert {r.kind for r in records} == {"image"}
        assert all(r.id.startswith("img_") for r in records)

    def test_same_seed_gives_same_record_seeds(self, api):
        product_id = add_product(api)
        config = {"product": {"id": product_id}, "seed": 7}

        first = register(api, "image", {"config": config, "count": 2})
        second = register(api, "image", {"config": config, "count": 2})

        with api.session() as session:
            def seeds(order_id):
                rows = session.scalars(
                    select(Record).where(Record.order_id == order_id)
                ).all()
                return sorted((r.params["variant"], r.params["seed"]) for r in rows)

            assert seeds(first["orderId"]) == seeds(second["orderId"]) == [
                (0, 7), (1, 8),
            ]

    def test_packshots_take_a_seed_too(self, api):
        product_id = add_product(api)

        body = register(api, "packshot", {
            "config": {"product": {"id": product_id}, "seed": 40}, "count": 2,
        })
        bad = register(api, "packshot", {
            "config": {"product": {"id": product_id}, "seed": -5},
        }, expect=400)

        with api.session() as session:
            seeds = sorted(session.get(Record, record_id).params["seed"]
                           for record_id in body["createdRecordIds"])
        assert seeds == [40, 41]
        assert bad == {"error": BAD_SEED}

    def test_records_without_seed_get_distinct_stable_seeds(self, api):
        product_id = add_product(api)

        body = register(api, "image", {"config": {"product": {"id": product_id}},
                                       "count": 4})

        from lightbox.generation.service import derived_seed

        with api.session() as session:
            for record_id in body["createdRecordIds"]:
                record = session.get(Record, record_id)
                assert record.params["seed"] == derived_seed(record_id)


# Body errors ------------------------------------------------------------------


# One server per test is the expensive part, so each table of bad bodies runs in
# one test; a failing case names itself in the assertion message.
BAD_COUNTS = [0, -1, 21, 1.5, "3", True, None, [2]]
BAD_PREFERENCES = [
    ({}, "preferences: required"),
    ({"preferences": ""}, "preferences: must be a non-empty string"),
    ({"preferences": "   "}, "preferences: must be a non-empty string"),
    ({"preferences": 42}, "preferences: must be a non-empty string"),
    ({"preferences": None}, "preferences: must be a non-empty string"),
    ({"preferences": "x" * 2001},
     "preferences: must be a string of at most 2000 characters"),
]
BAD_CONFIGS = [
    ({}, "config.product.id: required"),
    ({"config": {}}, "config.product.id: required"),
    ({"config": {"product": {}}}, "config.product.id: required"),
    ({"config": {"product": {"id": ""}}},
     "config.product.id: must be a non-empty string"),
    ({"config": {"product": {"id": 12}}},
     "config.product.id: must be a non-empty string"),
    ({"config": "prod_x"}, "config: must be an object"),
    ({"config": {"product": {"id": "p"}, "model": "m"}},
     "config.model: must be an object"),
]
BAD_SHOOT_OPTIONS = [
    ({"seed": -1}, BAD_SEED),
    ({"seed": "5"}, BAD_SEED),
    ({"seed": 1.0}, BAD_SEED),
    ({"industry": 3}, "config.industry: must be a string"),
    ({"suggestions": ["bright"]}, "config.suggestions: must be a string"),
]


def error_of(team, kind: str, body) -> tuple[int, dict]:
    response = team.client.post(REGISTER[kind], json=body)
    return response.status_code, response.json()


class TestBodyErrors:
    def test_photo_shoot_count_bounds_and_types(self, api):
        product_id = add_product(api)
        before = counts(api)
        expected = (400, {"error": "count: must be an integer between 1 and 20"})

        for count in BAD_COUNTS:
            body = {"config": {"product": {"id": product_id}}, "count": count}
            assert error_of(api, "image", body) == expected, count

        assert counts(api) == before

    def test_packshot_count_goes_to_fifty(self, api):
        product_id = add_product(api)
        config = {"product": {"id": product_id}}

        over = register(api, "packshot", {"config": config, "count": 51}, expect=400)
        full = register(api, "packshot", {"config": config, "count": 50})

        assert over == {"error": "count: must be an integer between 1 and 50"}
        assert len(full["createdRecordIds"]) == 50

    def test_ideas_count(self, api):
        expected = (400, {"error": "count: must be an integer between 1 and 20"})

        for kind in ("model", "scenery"):
            for count in (0, 21, 2.0, "10"):
                body = {"preferences": "studio", "count": count}
                assert error_of(api, kind, body) == expected, (kind, count)

        assert counts(api)[:2] == (0, 0)

    def test_preferences(self, api):
        for body, message in BAD_PREFERENCES:
            assert error_of(api, "model", body) == (400, {"error": message}), body

    def test_config(self, api):
        for kind in ("packshot", "image"):
            for body, message in BAD_CONFIGS:
                assert error_of(api, kind, body) == (400, {"error": message}), (
                    kind, body)

    def test_shoot_options(self, api):
        for config, message in BAD_SHOOT_OPTIONS:
            body = {"config": {"product": {"id": "prod_x"}, **config}}
            assert error_of(api, "image", body) == (400, {"error": message}), config

    def test_body_must_be_a_json_object(self, api):
        not_json = api.client.post(
            REGISTER["model"], content=b"{preferences: studio",
            headers={"Content-Type": "application/json"},
        )
        array = api.client.post(REGISTER["model"], json=["studio"])
        deep = api.client.post(REGISTER["model"], content=b"[" * 100_000,
                               headers={"Content-Type": "application/json"})
        empty = api.client.post(REGISTER["model"])

        assert (not_json.status_code, not_json.json()) == (
            400, {"error": "body: not valid JSON"}
        )
        assert (deep.status_code, deep.json()) == (
            400, {"error": "body: not valid JSON"}
        )
        assert (array.status_code, array.json()) == (
            400, {"error": "body: must be a JSON object"}
        )
        assert (empty.status_code, empty.json()) == (
            400, {"error": "body: must be a JSON object"}
        )
        assert counts(api)[:2] == (0, 0)

    def test_auth_comes_before_the_body(self, api):
        response = api.client.post(
            REGISTER["model"], content=b"not json", headers={"X-Api-Key": "nope"},
        )
        assert (response.status_code, response.json()) == (
            401, {"error": "Invalid API key."}
        )

    def test_read_only_key_cannot_register(self, make_team):
        team = make_team(scopes="content.read")

        body = register(team, "model", {"preferences": "studio"}, expect=403)

        assert body == {"error": "Missing required scope: 'content.register'."}
        assert counts(team)[:2] == (0, 0)


# Referenced ids ----------------------------------------------------------------


class TestReferencedIds:
    def test_unknown_product(self, api):
        for kind in ("packshot", "image"):
            body = register(api, kind, {"config": {"product": {"id": "prod_nope"}}},
                            expect=404)
            assert body == {"error": "Product not found: config.product.id"}

    def test_another_teams_product(self, make_team):
        alice, bob = make_team(), make_team()
        product_id = add_product(alice)
        before = counts(bob), credits(bob)

        body = register(bob, "image", {"config": {"product": {"id": product_id}}},
                        expect=404)

        assert body == {"error": "Product not found: config.product.id"}
        assert (counts(bob), credits(bob)) == before

    def test_deleted_product(self, api):
        product_id = add_product(api)
        assert api.client.delete(f"/products/{product_id}").status_code == 200

        body = register(api, "packshot", {"config": {"product": {"id": product_id}}},
                        expect=404)

        assert body == {"error": "Product not found: config.product.id"}

    def test_model_must_be_done(self, api):
        product_id = add_product(api)
        pending = register(api, "model", {"preferences": "studio", "count": 1})

        body = register(api, "image", {"config": {
            "product": {"id": product_id},
            "model": {"id": pending["createdRecordIds"][0]},
        }}, expect=404)

        assert body == {"error": "Model not found: config.model.id"}

    def test_another_teams_model_and_scenery(self, make_team):
        alice, bob = make_team(), make_team()
        model, scenery = upload(alice, "model"), upload(alice, "scenery")
        product_id = add_product(bob)

        as_model = register(bob, "image", {"config": {
            "product": {"id": product_id}, "model": {"id": model["id"]},
        }}, expect=404)
        as_scenery = register(bob, "packshot", {"config": {
            "product": {"id": product_id}, "scenery": {"id": scenery["id"]},
        }}, expect=404)

        assert as_model == {"error": "Model not found: config.model.id"}
        assert as_scenery == {"error": "Scenery not found: config.scenery.id"}

    def test_a_model_is_not_a_scenery(self, api):
        product_id = add_product(api)
        model = upload(api, "model")

        body = register(api, "image", {"config": {
            "product": {"id": product_id}, "scenery": {"id": model["id"]},
        }}, expect=404)

        assert body == {"error": "Scenery not found: config.scenery.id"}

    def test_unknown_preset(self, api):
        product_id = add_product(api)

        body = register(api, "image", {"config": {
            "product": {"id": product_id}, "preset": {"id": "preset_nope"},
        }}, expect=404)

        assert body == {"error": "Preset not found: config.preset.id"}

    def test_body_is_checked_before_ids_and_ids_before_credits(self, make_team):
        broke = make_team(credits=0)

        bad_body = register(broke, "image", {
            "config": {"product": {"id": "prod_nope"}}, "count": 0,
        }, expect=400)
        bad_id = register(broke, "image", {
            "config": {"product": {"id": "prod_nope"}}, "count": 1,
        }, expect=404)

        assert bad_body == {"error": "count: must be an integer between 1 and 20"}
        assert bad_id == {"error": "Product not found: config.product.id"}


# Credits ---------------------------------------------------------------------


class TestCredits:
    def test_insufficient_credits_create_nothing(self, make_team, runtime):
        team = make_team(credits=50)
        product_id = add_product(team)
        before = counts(team), credits(team), runtime.queue.depth()

        body = register(team, "image", {
            "config": {"product": {"id": product_id}}, "count": 2,
        }, expect=402)

        assert body == {"error": "Insufficient credits. Required: 60, available: 50."}
        assert (counts(team), credits(team), runtime.queue.depth()) == before
        assert api_list_count(team, "/image-picker", "images") == 0

    def test_exact_cover_is_enough(self, make_team):
        team = make_team(credits=60)
        product_id = add_product(team)

        register(team, "image", {"config": {"product": {"id": product_id}},
                                 "count": 2})

        assert credits(team) == {"balance": 60, "reserved": 60, "available": 0}
        body = register(team, "model", {"preferences": "studio", "count": 1},
                        expect=402)
        assert body == {"error": "Insufficient credits. Required: 10, available: 0."}

    def test_50_concurrent_orders_against_a_balance_for_10(self, make_team):
        team = make_team(credits=300)  # ten photo-shoot images at 30
        product_id = add_product(team)
        body = {"config": {"product": {"id": product_id}}, "count": 1}

        with ThreadPoolExecutor(max_workers=50) as pool:
            statuses = list(pool.map(
                lambda _: team.client.post(REGISTER["image"], json=body).status_code,
                range(50),
            ))

        assert sorted(statuses) == [200] * 10 + [402] * 40
        assert counts(team)[:2] == (10, 10)
        # Renders may already be consuming; whatever they did, nothing is left
        # to spend and every credit is either reserved or consumed.
        summary = credits(team)
        assert summary["available"] == 0
        with team.session() as session:
            reserved = session.scalar(
                select(func.sum(LedgerEntry.amount)).where(
                    LedgerEntry.team_id == team.team_id,
                    LedgerEntry.kind == "reserve",
                )
            )
        assert reserved == 300

    def test_idempotent_retry_places_one_order(self, api, runtime):
        body = {"preferences": "concrete loft", "count": 2}
        headers = {"Idempotency-Key": "order-42"}

        first = api.client.post(REGISTER["scenery"], json=body, headers=headers)
        retry = api.client.post(REGISTER["scenery"], json=body, headers=headers)

        assert first.status_code == retry.status_code == 200
        assert retry.json() == first.json()
        assert retry.headers.get("Idempotent-Replayed") == "true"
        assert counts(api)[:2] == (1, 2)
        assert credits(api)["reserved"] == 20
        assert runtime.queue.depth() == 2

    def test_reservation_is_in_the_ledger(self, api):
        body = register(api, "scenery", {"preferences": "beach", "count": 2})

        ledger = api.client.get("/credits").json()["ledger"]
        reserve = [e for e in ledger if e["kind"] == "reserve"]
        assert len(reserve) == 1
        assert reserve[0]["amount"] == 20
        assert reserve[0]["reservationId"] == body["reservationId"]
        assert reserve[0]["orderId"] == body["orderId"]


def api_list_count(team, path: str, collection: str) -> int:
    body = team.client.get(path).json()
    assert body["count"] == len(body[collection])
    return body["count"]


class TestUnstorableText:
    """Valid JSON that no database column takes is a 400 in both modes."""

    @pytest.mark.parametrize("text", ["studio\u0000light", "studio \ud924"])
    def test_nul_and_lone_surrogates_are_a_400_and_reserve_nothing(self, api, text):
        response = api.client.post(
            REGISTER["scenery"],
            content=json.dumps({"preferences": text, "count": 1}),
            headers={"Content-Type": "application/json"},
        )

        assert response.status_code == 400, response.text
        assert response.json()["error"].startswith("preferences: ")
        assert counts(api)[:2] == (0, 0)
        assert credits(api)["available"] == 1000
