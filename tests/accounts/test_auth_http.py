"""API key authentication, scopes and rate limiting over real HTTP."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from conftest import test_settings

from lightbox.accounts import service
from lightbox.accounts.models import ApiKey

INVALID = {"error": "Invalid API key."}
LIMIT = 5


@pytest.fixture
def settings(tmp_path):
    # A small limit so the window fills in a few requests.
    return test_settings(tmp_path / "data", rate_limit_per_minute=LIMIT)


def call(server, path: str = "/credits", *, method: str = "GET",
         **headers) -> httpx.Response:
    url = f"{server.url}/api/external{path}"
    return httpx.request(method, url, headers=headers, json={} if method == "POST"
                         else None, timeout=30)


def new_key(team, **kwargs) -> tuple[str, str]:
    with team.session() as session:
        key, raw = service.create_api_key(
            session, team_id=team.team_id,
            secret_key=team.runtime.settings.secret_key, **kwargs,
        )
        return key.id, raw


class TestHeaders:
    def test_x_api_key(self, server, api):
        response = call(server, **{"X-Api-Key": api.key})

        assert response.status_code == 200
        assert response.json()["balance"] == 1000
        assert response.headers["X-RateLimit-Limit"] == str(LIMIT)
        assert response.headers["X-RateLimit-Remaining"] == str(LIMIT - 1)

    def test_bearer(self, server, api):
        response = call(server, Authorization=f"Bearer {api.key}")

        assert response.status_code == 200
        assert response.json()["available"] == 1000

    def test_x_api_key_wins_over_bearer(self, server, make_team):
        good, other = make_team(), make_team(credits=5)

        wrong_header = call(server, **{"X-Api-Key": good.key + "x",
                                       "Authorization": f"Bearer {good.key}"})
        both_valid = call(server, **{"X-Api-Key": other.key,
                                     "Authorization": f"Bearer {good.key}"})

        assert (wrong_header.status_code, wrong_header.json()) == (401, INVALID)
        assert both_valid.json()["balance"] == 5  # the X-Api-Key team's

    @pytest.mark.parametrize("headers", [
        {},
        {"X-Api-Key": ""},
        {"X-Api-Key": "mk_live_nope"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"X-Api-Key": "mk_live_AAAAAAAAAAAAAAAA." + "A" * 43},
    ], ids=["none", "empty", "malformed", "basic", "empty-bearer", "unknown"])
    def test_every_failure_is_the_same_401(self, server, api, headers):
        response = call(server, **headers)

        assert (response.status_code, response.json()) == (401, INVALID)

    def test_revoked_and_expired_keys(self, server, api):
        revoked_id, revoked = new_key(api)
        _expired_id, expired = new_key(
            api, expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
        assert call(server, **{"X-Api-Key": revoked}).status_code == 200
        with api.session() as session:
            service.revoke_api_key(session, key_id=revoked_id)
            session.get(ApiKey, _expired_id).expires_at = (
                dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))

        for raw in (revoked, expired):
            response = call(server, **{"X-Api-Key": raw})
            assert (response.status_code, response.json()) == (401, INVALID)


class TestScopes:
    def test_read_only_key_cannot_post(self, server, make_team):
        reader = make_team(scopes=["content.read"])

        get = call(server, **{"X-Api-Key": reader.key})
        post = call(server, "/presets/update-preset", method="POST",
                    **{"X-Api-Key": reader.key})

        assert get.status_code == 200
        assert post.status_code == 403
        assert post.json() == {"error": "Missing required scope: 'content.register'."}

    def test_register_only_key_cannot_read(self, server, make_team):
        writer = make_team(scopes=["content.register"])

        response = call(server, **{"X-Api-Key": writer.key})

        assert response.status_code == 403
        assert response.json() == {"error": "Missing required scope: 'content.read'."}


class TestRateLimit:
    def test_limit_per_key_then_429_with_retry_after(self, server, make_team):
        team, other = make_team(), make_team()
        second_id, second_key = new_key(team)

        remaining = [
            call(server, **{"X-Api-Key": team.key}).headers["X-RateLimit-Remaining"]
            for _ in range(LIMIT)
        ]
        # GET and POST share the window.
        refused = call(server, "/presets/update-preset", method="POST",
                       **{"X-Api-Key": team.key})

        assert remaining == [str(n) for n in range(LIMIT - 1, -1, -1)]
        assert refused.status_code == 429
        assert refused.json() == {
            "error": "Too many requests. Please retry after a short delay."}
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["X-RateLimit-Limit"] == str(LIMIT)
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        # Buckets are per key: the team's other key and another team are unaffected.
        assert call(server, **{"X-Api-Key": second_key}).status_code == 200
        assert call(server, **{"X-Api-Key": other.key}).status_code == 200

    def test_lists_built_as_raw_json_carry_the_headers_too(self, server, api):
        for path in ("/image-picker", "/videos"):
            response = call(server, path, **{"X-Api-Key": api.key})

            assert response.status_code == 200
            assert response.headers["X-RateLimit-Limit"] == str(LIMIT)
            assert int(response.headers["X-RateLimit-Remaining"]) < LIMIT

    def test_bad_keys_do_not_spend_a_real_keys_budget(self, server, api):
        key_id = api.key_id
        forged = f"mk_live_{key_id}." + "A" * 43
        for _ in range(LIMIT + 2):
            assert call(server, **{"X-Api-Key": forged}).status_code == 401

        assert call(server, **{"X-Api-Key": api.key}).status_code == 200


def test_last_used_is_recorded(server, api):
    with api.session() as session:
        assert session.get(ApiKey, api.key_id).last_used_at is None
    before = dt.datetime.now(dt.UTC)

    assert call(server, **{"X-Api-Key": api.key}).status_code == 200

    with api.session() as session:
        used = session.get(ApiKey, api.key_id).last_used_at
    assert used is not None and before <= used <= dt.datetime.now(dt.UTC)
