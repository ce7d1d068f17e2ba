"""Schemathesis against the app's own OpenAPI document: no input gives a 500.

Every operation of /openapi.json is called with generated valid and invalid
inputs through real HTTP, authenticated as a team that has products, a model and
a scenery, so generated ids sometimes hit real rows. Every 4xx must still be the
documented ``{"error": ...}`` body.
"""

from __future__ import annotations

import pytest
import schemathesis
from factories import image_bytes
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error


@pytest.fixture
def fuzz_team(make_team):
    team = make_team(credits=1_000_000)
    uploaded = team.client.post(
        "/products", files={"file": ("bottle.png", image_bytes("PNG", alpha=True),
                                     "image/png")})
    assert uploaded.status_code == 200, uploaded.text
    return team


@pytest.fixture
def api_schema(server, fuzz_team):
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=30, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_no_input_gives_a_server_error(case, server, fuzz_team):
    response = case.call(base_url=server.url,
                         headers={"X-Api-Key": fuzz_team.key}, timeout=30)

    case.validate_response(response, checks=[not_a_server_error])
    if 400 <= response.status_code < 500:
        body = response.json()
        assert set(body) == {"error"} and body["error"], body
