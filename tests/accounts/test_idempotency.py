"""Idempotency-Key over real HTTP: on the real API, and on a small app of our own
whose endpoints can be slow, fail or rate-limit on demand."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from lightbox.accounts import service
from lightbox.accounts.idempotency import IdempotencyMiddleware, _fingerprint
from lightbox.accounts.models import IdempotencyKey
from lightbox.credits.models import LedgerEntry

REUSED = {"error": "Idempotency-Key reused with a different request body."}


def preset_form(name: str) -> dict:
    return {"name": name, "quantityGuidelines": "three angles",
            "qualityGuidelines": "soft light, white background"}


class TestOnTheApi:
    def test_retried_upload_returns_the_first_reply(self, api):
        headers = {"Idempotency-Key": "preset-1"}

        # httpx picks a new multipart boundary for each request, as a retry would.
        first = api.client.post("/presets", data=preset_form("Spring"),
                                files={"cover": ("", b"")}, headers=headers)
        again = api.client.post("/presets", data=preset_form("Spring"),
                                files={"cover": ("", b"")}, headers=headers)

        assert first.status_code == 200, first.text
        assert again.status_code == 200
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        presets = api.client.get("/presets", params={"maxRecords": 100}).json()
        assert [p["name"] for p in presets["presets"]].count("Spring") == 1

    def test_same_key_different_body_is_409(self, api):
        headers = {"Idempotency-Key": "preset-2"}
        first = api.client.post("/presets", data=preset_form("A"), headers=headers)

        other = api.client.post("/presets", data=preset_form("B"), headers=headers)
        other_path = api.client.post("/presets/update-preset", headers=headers,
                                     json={"presetId": first.json()["presetId"]})

        assert first.status_code == 200
        assert (other.status_code, other.json()) == (409, REUSED)
        assert (other_path.status_code, other_path.json()) == (409, REUSED)

    def test_retried_order_reserves_once(self, api):
        headers = {"Idempotency-Key": "order-1"}
        body = {"preferences": "slim standing mannequin", "count": 2}

        first = api.client.post("/models/register-ideas", json=body, headers=headers)
        # Same content, other key order and spacing: still the same request.
        again = api.client.post(
            "/models/register-ideas", headers={**headers,
                                               "Content-Type": "application/json"},
            content=b'{ "count": 2, "preferences": "slim standing mannequin" }')

        assert first.status_code == 200, first.text
        assert again.json()["orderId"] == first.json()["orderId"]
        assert again.headers["Idempotent-Replayed"] == "true"
        with api.session() as session:
            reserves = session.scalars(select(LedgerEntry.amount).where(
                LedgerEntry.team_id == api.team_id,
                LedgerEntry.kind == "reserve")).all()
        assert reserves == [20]

    def test_keys_are_scoped_to_the_api_key(self, make_team):
        one, two = make_team(), make_team()
        headers = {"Idempotency-Key": "shared-name"}

        a = one.client.post("/presets", data=preset_form("Mine"), headers=headers)
        b = two.client.post("/presets", data=preset_form("Mine"), headers=headers)

        assert a.status_code == b.status_code == 200
        assert a.json()["presetId"] != b.json()["presetId"]
        assert "Idempotent-Replayed" not in b.headers

    def test_stored_per_key_hash_not_the_key(self, api):
        api.client.post("/presets", data=preset_form("Hashed"),
                        headers={"Idempotency-Key": "h-1"})

        with api.session() as session:
            row = session.scalars(select(IdempotencyKey)).one()
        assert api.key not in row.key_hash and len(row.key_hash) == 64
        assert row.status_code == 200 and row.response_body
        ttl = row.expires_at - row.created_at
        assert dt.timedelta(hours=23, minutes=59) < ttl <= dt.timedelta(hours=24)

    @pytest.mark.parametrize("value", ["x" * 256, "tab\there", "é"])
    def test_malformed_idempotency_key_is_400(self, api, value):
        response = api.client.post(
            "/presets", data=preset_form("X"),
            headers={"Idempotency-Key": value.encode("utf-8")},
        )

        assert response.status_code == 400
        assert response.json() == {
            "error": "Idempotency-Key: must be 1 to 255 printable ASCII characters"}


# A small app of our own -------------------------------------------------------


class Probe:
    """State the test app's endpoints share with the test."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = threading.Event()
        self.entered = threading.Event()
        self.fail_next = 0


def build_app(runtime, probe: Probe) -> FastAPI:
    app = FastAPI()

    @app.post("/api/external/echo")
    async def echo(request: Request):
        probe.calls += 1
        body = await request.body()
        return {"call": probe.calls, "size": len(body), "tail": body[-8:].hex()}

    @app.post("/api/external/slow")
    def slow():
        probe.calls += 1
        probe.entered.set()
        probe.release.wait(10)
        return {"call": probe.calls}

    @app.post("/api/external/flaky")
    def flaky():
        probe.calls += 1
        if probe.fail_next:
            probe.fail_next -= 1
            status = 503 if probe.calls % 2 else 429
            return JSONResponse({"error": "try again"}, status_code=status)
        return {"call": probe.calls}

    @app.post("/elsewhere")
    def elsewhere():
        probe.calls += 1
        return {"call": probe.calls}

    app.add_middleware(IdempotencyMiddleware, runtime_getter=lambda: runtime)
    return app


@pytest.fixture
def own(runtime):
    """The test app on a real Uvicorn; yields (base url, probe, raw API key)."""
    from lightbox.migrate import upgrade

    upgrade(runtime.db)
    with runtime.db.session() as session:
        team = service.create_team(session, name="own")
        _key, raw = service.create_api_key(session, team_id=team.id,
                                           secret_key=runtime.settings.secret_key)
    probe = Probe()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(build_app(runtime, probe),
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with httpx.Client(base_url=url, headers={"X-Api-Key": raw}, timeout=30) as client:
        yield client, probe, raw
    probe.release.set()
    server.should_exit = True
    thread.join(10)


class TestMiddleware:
    def test_the_app_receives_the_whole_buffered_body(self, own):
        client, probe, _ = own
        body = bytes(range(256)) * 4096  # 1 MiB, streamed in many chunks

        def chunks():
            for start in range(0, len(body), 65536):
                yield body[start:start + 65536]

        first = client.post("/api/external/echo", content=chunks(),
                            headers={"Idempotency-Key": "big"})
        again = client.post("/api/external/echo", content=body,
                            headers={"Idempotency-Key": "big"})

        assert first.json() == {"call": 1, "size": len(body),
                                "tail": body[-8:].hex()}
        assert again.json() == first.json() and probe.calls == 1

    def test_concurrent_duplicate_is_409_while_the_first_runs(self, own):
        client, probe, _ = own
        headers = {"Idempotency-Key": "slow-1"}
        results = {}
        first = threading.Thread(target=lambda: results.setdefault(
            "first", client.post("/api/external/slow", headers=headers)))
        first.start()
        assert probe.entered.wait(10)

        duplicate = client.post("/api/external/slow", headers=headers)
        probe.release.set()
        first.join(10)
        replay = client.post("/api/external/slow", headers=headers)

        assert duplicate.status_code == 409
        assert "still in progress" in duplicate.json()["error"]
        assert results["first"].json() == {"call": 1}
        assert replay.json() == {"call": 1} and probe.calls == 1

    def test_failures_and_rate_limits_are_not_stored(self, own):
        client, probe, _ = own
        probe.fail_next = 2
        headers = {"Idempotency-Key": "flaky-1"}

        statuses = [client.post("/api/external/flaky", headers=headers).status_code
                    for _ in range(3)]
        replay = client.post("/api/external/flaky", headers=headers)

        assert statuses == [503, 429, 200]
        assert replay.json() == {"call": 3}
        assert replay.headers["Idempotent-Replayed"] == "true"

    def test_expired_entries_run_again(self, own, runtime):
        client, probe, _ = own
        headers = {"Idempotency-Key": "old"}
        client.post("/api/external/echo", headers=headers, content=b"x")
        with runtime.db.session() as session:
            row = session.scalars(select(IdempotencyKey)).one()
            row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)

        again = client.post("/api/external/echo", headers=headers, content=b"x")

        assert again.json()["call"] == 2
        assert "Idempotent-Replayed" not in again.headers

    def test_a_stale_in_flight_claim_is_taken_over(self, own, runtime):
        client, probe, raw = own
        # A process died mid-request: its claim was never finished.
        with runtime.db.session() as session:
            key_hash = hmac.new(runtime.settings.secret_key.encode(), raw.encode(),
                                 hashlib.sha256).hexdigest()
            scope = {"method": "POST", "path": "/api/external/echo",
                     "query_string": b"", "headers": []}
            now = dt.datetime.now(dt.UTC)
            session.add(IdempotencyKey(
                key_hash=key_hash, idempotency_key="crashed",
                request_hash=_fingerprint(scope, b"x"),
                locked_until=now - dt.timedelta(seconds=1),
                expires_at=now + dt.timedelta(hours=1),
            ))

        response = client.post("/api/external/echo", content=b"x",
                               headers={"Idempotency-Key": "crashed"})

        assert response.status_code == 200 and probe.calls == 1

    def test_revoked_key_gets_no_replay(self, own, runtime):
        client, probe, raw = own
        headers = {"Idempotency-Key": "rev"}
        client.post("/api/external/echo", headers=headers, content=b"x")
        with runtime.db.session() as session:
            key_id = raw[len("mk_live_"):].split(".")[0]
            service.revoke_api_key(session, key_id=key_id)

        # This app has no auth of its own, so the request reaches it: the
        # middleware neither replays nor stores for a key that no longer works.
        again = client.post("/api/external/echo", headers=headers, content=b"x")

        assert again.json()["call"] == 2
        assert "Idempotent-Replayed" not in again.headers

    def test_only_api_posts_with_a_key_are_handled(self, own, runtime):
        client, probe, _ = own
        headers = {"Idempotency-Key": "k"}

        outside = [client.post("/elsewhere", headers=headers) for _ in range(2)]
        no_header = [client.post("/api/external/echo") for _ in range(2)]

        assert [r.json()["call"] for r in outside + no_header] == [1, 2, 3, 4]
        with runtime.db.session() as session:
            assert session.scalar(select(func.count()).select_from(
                IdempotencyKey)) == 0


def test_purge_expired_deletes_only_old_replies(runtime):
    from lightbox.accounts.idempotency import purge_expired
    from lightbox.migrate import upgrade

    upgrade(runtime.db)
    now = dt.datetime.now(dt.UTC)
    with runtime.db.session() as session:
        for name, expires in (("old", now - dt.timedelta(minutes=1)),
                              ("new", now + dt.timedelta(hours=1))):
            session.add(IdempotencyKey(
                key_hash="0" * 64, idempotency_key=name, request_hash="0" * 64,
                locked_until=now, expires_at=expires,
            ))

    with runtime.db.session() as session:
        assert purge_expired(session) == 1
    with runtime.db.session() as session:
        left = session.scalars(select(IdempotencyKey.idempotency_key)).all()
    assert left == ["new"]


def test_racing_claims_let_exactly_one_request_run(any_database):
    """Simultaneous first requests with one key: one runs, the rest see it."""
    from types import SimpleNamespace

    secret = "race-secret-" + "r" * 24
    with any_database.session() as session:
        team = service.create_team(session, name="racers")
        _key, raw = service.create_api_key(session, team_id=team.id,
                                           secret_key=secret)
    runtime = SimpleNamespace(db=any_database,
                              settings=SimpleNamespace(secret_key=secret))
    middleware = IdempotencyMiddleware(None, runtime_getter=lambda: runtime)
    barrier = threading.Barrier(12)
    outcomes = []

    def claim() -> None:
        barrier.wait()
        outcomes.append(middleware._claim(runtime, raw, "k" * 64, "same", "h" * 64)
                        .outcome)

    threads = [threading.Thread(target=claim) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(outcomes) == ["in_flight"] * 11 + ["run"]
