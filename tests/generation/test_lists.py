"""GET /models, /sceneries, /packshots, /image-picker: filters, order, pages, shape."""

from __future__ import annotations

import datetime as dt
import io

import httpx
import pytest
from conftest import test_settings
from factories import image_bytes
from PIL import Image
from sqlalchemy import event

from lightbox.generation import service, tasks

LISTS = {
    "/models": "models",
    "/sceneries": "sceneries",
    "/packshots": "packshots",
    "/image-picker": "images",
}
BAD_LIMIT = "limit: must be an integer between 1 and 1000"


@pytest.fixture
def settings(tmp_path):
    return test_settings(tmp_path / "data", workers=0)


# Pytest imports test modules by path (importlib mode), so each generation API
# test module carries the few helpers it needs.


def add_product(team, *, name: str = "White T-Shirt", seed: int = 0) -> str:
    response = team.client.post(
        "/products", data={"name": name},
        files={"file": ("p.jpg", image_bytes("JPEG", seed=seed), "image/jpeg")},
    )
    assert response.status_code == 200, response.text
    return response.json()["product"]["id"]


def upload(team, kind: str, *, name: str = "Upload") -> dict:
    """An uploaded model or scenery: a DONE, APPROVED record."""
    path = {"model": "/models", "scenery": "/sceneries"}[kind]
    data = image_bytes("PNG", alpha=True, seed=1)
    response = team.client.post(path, files={"file": ("u.png", data)},
                                data={"name": name})
    assert response.status_code == 200, response.text
    return response.json()[kind]


def register(team, kind: str, body: dict) -> dict:
    path = {"model": "/models", "scenery": "/sceneries", "packshot": "/packshots",
            "image": "/image-picker"}[kind] + "/register-ideas"
    response = team.client.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def listed(team, path: str, **params) -> list[dict]:
    response = team.client.get(path, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    items = body[LISTS[path]]
    assert body["count"] == len(items)
    return items


def ids(team, path: str, **params) -> list[str]:
    return [item["id"] for item in listed(team, path, **params)]


def vote(team, record_id: str, voting: str) -> None:
    response = team.client.post("/packshots/update-packshot",
                                json={"recordId": record_id, "Voting": voting})
    assert response.status_code == 200, response.text


class TestStatusFilter:
    def test_all_approved_rejected(self, api):
        kept, approved, rejected = (upload(api, "model")["id"] for _ in range(3))
        pending = register(api, "model", {"preferences": "studio", "count": 2})
        vote(api, rejected, "REJECTED")

        default = ids(api, "/models")
        assert set(default) == {kept, approved, *pending["createdRecordIds"]}
        assert ids(api, "/models", statusFilter="all") == default
        # Uploads start APPROVED; rejecting moves one to the archive.
        assert set(ids(api, "/models", statusFilter="approved")) == {kept, approved}
        assert ids(api, "/models", statusFilter="rejected") == [rejected]

    def test_unknown_value_is_400(self, api):
        expected = (400, {
            "error": "statusFilter: must be one of all, approved, rejected"
        })

        for path in LISTS:
            for value in ("ALL", "approve", "done", "archived", " all"):
                response = api.client.get(path, params={"statusFilter": value})
                assert (response.status_code, response.json()) == expected, (
                    path, value)

    def test_empty_lists(self, api):
        for path, collection in LISTS.items():
            response = api.client.get(path)

            assert response.status_code == 200
            assert response.json() == {collection: [], "count": 0}
            assert response.headers["content-type"] == "application/json"
            assert "x-ratelimit-limit" in response.headers


class TestOrderAndScope:
    def test_newest_first(self, api):
        first = register(api, "scenery", {"preferences": "beach", "count": 2})
        second = register(api, "scenery", {"preferences": "marble", "count": 2})

        items = listed(api, "/sceneries")

        stamps = [item["createdAt"] for item in items]
        assert stamps == sorted(stamps, reverse=True)
        assert {i["id"] for i in items[:2]} == set(second["createdRecordIds"])
        assert {i["id"] for i in items[2:]} == set(first["createdRecordIds"])

    def test_image_picker_product_filter(self, make_team):
        alice, bob = make_team(), make_team()
        shirt, mug = add_product(alice, name="Shirt"), add_product(alice, name="Mug")
        theirs = add_product(bob, name="Theirs")
        for product_id, count in ((shirt, 2), (mug, 3)):
            register(alice, "image", {"config": {"product": {"id": product_id}},
                                      "count": count})

        assert len(ids(alice, "/image-picker")) == 5
        shirts = listed(alice, "/image-picker", productId=shirt)
        assert len(shirts) == 2 and {i["productId"] for i in shirts} == {shirt}
        assert len(ids(alice, "/image-picker", productId=mug)) == 3
        assert ids(alice, "/image-picker", productId="prod_unknown") == []
        assert ids(alice, "/image-picker", productId=theirs) == []
        assert ids(bob, "/image-picker", productId=shirt) == []

    def test_teams_see_only_their_records(self, make_team):
        alice, bob = make_team(), make_team()
        upload(alice, "model")
        upload(alice, "scenery")
        product_id = add_product(alice)
        register(alice, "packshot", {"config": {"product": {"id": product_id}},
                                     "count": 1})
        register(alice, "image", {"config": {"product": {"id": product_id}},
                                  "count": 1})

        for path in LISTS:
            assert len(ids(alice, path)) == 1
            for status_filter in ("all", "approved", "rejected"):
                assert ids(bob, path, statusFilter=status_filter) == []

    def test_kinds_do_not_mix(self, api):
        register(api, "model", {"preferences": "studio", "count": 2})

        assert len(ids(api, "/models")) == 2
        assert ids(api, "/sceneries") == []


class TestPages:
    def test_limit_and_cursor_walk_the_whole_list(self, api):
        register(api, "scenery", {"preferences": "studio", "count": 7})
        everything = ids(api, "/sceneries")

        pages, cursor = [], None
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            body = api.client.get("/sceneries", params=params).json()
            pages.append([item["id"] for item in body["sceneries"]])
            cursor = body.get("nextCursor")
            if cursor is None:
                break

        assert [len(page) for page in pages] == [3, 3, 1]
        assert [i for page in pages for i in page] == everything

    def test_no_cursor_without_limit_or_when_all_fit(self, api):
        register(api, "scenery", {"preferences": "studio", "count": 3})

        assert "nextCursor" not in api.client.get("/sceneries").json()
        body = api.client.get("/sceneries", params={"limit": 3}).json()
        assert body["count"] == 3 and "nextCursor" not in body

    def test_cursor_respects_filters(self, api):
        product_id = add_product(api)
        other = add_product(api, name="Other", seed=1)
        register(api, "image", {"config": {"product": {"id": product_id}},
                                "count": 3})
        register(api, "image", {"config": {"product": {"id": other}}, "count": 3})

        first = api.client.get("/image-picker", params={
            "productId": product_id, "limit": 2,
        }).json()
        rest = api.client.get("/image-picker", params={
            "productId": product_id, "limit": 2, "cursor": first["nextCursor"],
        }).json()

        assert first["count"] == 2 and rest["count"] == 1
        assert {i["productId"] for i in first["images"] + rest["images"]} == {
            product_id
        }

    def test_bad_limit_and_cursor(self, api):
        bad_cursor = {"error": "cursor: invalid (pass nextCursor back unchanged)"}

        for limit in ("0", "1001", "abc", "1.5", "-1", "1e3"):
            response = api.client.get("/models", params={"limit": limit})
            assert (response.status_code, response.json()) == (
                400, {"error": BAD_LIMIT}), limit
        for cursor in ("garbage", "W10", "WyJ4IiwgMV0"):
            response = api.client.get("/models", params={"limit": 5,
                                                          "cursor": cursor})
            assert (response.status_code, response.json()) == (400, bad_cursor), (
                cursor)


class TestRecordShape:
    def test_done_record_has_working_media_urls(self, api):
        model = upload(api, "model", name="Anna")

        item = listed(api, "/models")[0]

        assert item["id"] == model["id"]
        assert item["name"] == "Anna"
        assert (item["status"], item["voting"]) == ("DONE", "APPROVED")
        assert "error" not in item
        for url in (item["thumbnail"], item["imageUrl"]):
            # Served by the API (local media) or the object store (S3).
            assert f"/teams/{api.team_id}/models/{model['id']}/" in url
        # Plain GETs without the API key, as an <img> tag would.
        thumb = httpx.get(item["thumbnail"])
        full = httpx.get(item["imageUrl"])
        assert thumb.headers["content-type"] == "image/jpeg"
        assert Image.open(io.BytesIO(thumb.content)).format == "JPEG"
        assert max(Image.open(io.BytesIO(thumb.content)).size) <= 640
        image = Image.open(io.BytesIO(full.content))
        assert (image.format, image.mode, image.size) == ("PNG", "RGBA", (640, 640))

    def test_failed_record_shows_its_error(self, api, runtime):
        body = register(api, "model", {"preferences": "studio", "count": 2})
        broken, fine = body["createdRecordIds"]
        with runtime.db.session() as session:
            assert tasks.fail(session, broken, error="engine refused the input")

        items = {i["id"]: i for i in listed(api, "/models")}

        assert items[broken]["status"] == "FAILED"
        assert items[broken]["error"] == "engine refused the input"
        assert items[broken]["thumbnail"] == ""
        assert "imageUrl" not in items[broken]
        assert items[fine]["status"] == "INPROGRESS"
        assert "error" not in items[fine]


class TestQueryPlan:
    def test_one_query_on_records_per_list(self, api, runtime):
        register(api, "model", {"preferences": "studio", "count": 5})
        statements: list[str] = []

        def remember(_conn, _cursor, statement, *_args):
            if "records" in statement:
                statements.append(statement)

        # GETs may run on the read-only engine (SQLite) or the main one.
        engines = {runtime.db.engine, getattr(runtime.db, "read_engine",
                                              runtime.db.engine)}
        for engine in engines:
            event.listen(engine, "before_cursor_execute", remember)
        try:
            assert len(ids(api, "/models", statusFilter="approved")) == 0
            assert len(ids(api, "/models", limit=2)) == 2
        finally:
            for engine in engines:
                event.remove(engine, "before_cursor_execute", remember)

        assert len(statements) == 2

    def test_lists_are_index_scans_without_a_sort(self, runtime, api):
        now = dt.datetime.now(dt.UTC)
        cases = [("all", None, None), ("approved", None, None),
                 ("rejected", None, service.encode_cursor(now, "x")),
                 ("all", "prod_x", None),
                 ("all", "prod_x", service.encode_cursor(now, "x"))]

        for status_filter, product_id, cursor in cases:
            plan = list_plan(runtime, team_id=api.team_id, status_filter=status_filter,
                             product_id=product_id, cursor=cursor)
            case = (status_filter, product_id, cursor, plan)
            if runtime.db.is_sqlite:
                assert "USING INDEX ix_records_team_kind" in plan, case
                assert "TEMP B-TREE" not in plan, case
            else:
                assert "Index Scan Backward using ix_records_team_kind" in plan, case
                assert "Sort" not in plan, case


def list_plan(runtime, *, team_id: str, status_filter: str, product_id: str | None,
              cursor: str | None) -> str:
    """The database's plan for the exact statement list_records runs."""
    captured: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, *_args):
        if statement.lstrip().startswith("SELECT records.id"):
            captured.append((statement, parameters))

    event.listen(runtime.db.engine, "before_cursor_execute", capture)
    try:
        with runtime.db.session() as session:
            service.list_records(
                session, team_id=team_id, kind="image" if product_id else "model",
                status_filter=status_filter, product_id=product_id, limit=10,
                cursor=cursor,
            )
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", capture)

    statement, parameters = captured[0]
    with runtime.db.engine.connect() as conn:
        if runtime.db.is_sqlite:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            return " | ".join(str(row[-1]) for row in rows)
        # A near-empty table would be scanned whole; ask for the plan it gets
        # once that stops being cheaper.
        conn.exec_driver_sql("SET enable_seqscan = off")
        rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters)
        return " | ".join(row[0] for row in rows)


class TestSerializers:
    def test_list_items_match_record_json(self, api, runtime):
        from lightbox.generation.models import Record
        from lightbox.generation.serialize import record_json

        upload(api, "model")
        placed = register(api, "model", {"preferences": "studio", "count": 2})
        with runtime.db.session() as session:
            assert tasks.fail(session, placed["createdRecordIds"][0], error="no")

        items = listed(api, "/models")

        def unsigned(record: dict) -> dict:
            # Signatures depend on the second they were made (S3 presigning).
            return {key: value.split("?")[0] if key in ("thumbnail", "imageUrl")
                    else value for key, value in record.items()}

        assert len(items) == 3
        with api.session() as session:
            for item in items:
                expected = record_json(session.get(Record, item["id"]),
                                       runtime.storage)
                assert unsigned(item) == unsigned(expected)
                assert item.keys() == expected.keys()

    def test_media_urls_are_reused_then_refreshed(self, runtime, monkeypatch):
        from lightbox.generation import serialize

        urls = serialize.MediaUrls(runtime.storage, ttl=600)
        key = "teams/team_x/images/img_x/image.jpg"
        calls = []
        monkeypatch.setattr(runtime.storage, "url",
                            lambda k, ttl=None: calls.append(k) or f"u{len(calls)}")
        clock = iter([100.0, 130.0, 161.0])
        monkeypatch.setattr(serialize.time, "monotonic", lambda: next(clock))

        # Reused for a tenth of the TTL (60 s here), then signed afresh.
        assert [urls(key), urls(key), urls(key)] == ["u1", "u1", "u2"]
        assert calls == [key, key]
