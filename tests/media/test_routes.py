"""GET /media/{key}: signed URLs over real HTTP, and the ways they are refused."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, unquote, urlparse

import httpx
import pytest
from factories import image_bytes

from lightbox.media import signing

FORBIDDEN = {"error": "Invalid or expired media URL."}


@pytest.fixture
def stored(runtime, server):
    key = "teams/team_x/products/prod_y/original.png"
    data = image_bytes("PNG", (120, 80))
    runtime.storage.put(key, data, content_type="image/png")
    return key, data


def url_for(server, runtime, key, *, expires=None, secret=None):
    expires = int(time.time()) + 600 if expires is None else expires
    sig = signing.sign(key, expires, secret=secret or runtime.settings.secret_key)
    return f"{server.url}/media/{key}?exp={expires}&sig={sig}"


def test_signed_url_serves_the_bytes_without_an_api_key(runtime, stored):
    key, data = stored
    response = httpx.get(runtime.storage.url(key, ttl=900))

    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    max_age = int(re.fullmatch(r"private, max-age=(\d+)",
                               response.headers["cache-control"]).group(1))
    assert 890 <= max_age <= 900 + 900 // 24


def test_head_and_range_requests(runtime, stored):
    key, data = stored
    url = runtime.storage.url(key)

    head = httpx.head(url)
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == len(data)

    part = httpx.get(url, headers={"Range": "bytes=0-7"})
    assert part.status_code == 206
    assert part.content == data[:8] == b"\x89PNG\r\n\x1a\n"


def test_expired_url(server, runtime, stored):
    key, _ = stored
    response = httpx.get(url_for(server, runtime, key, expires=int(time.time()) - 1))
    assert (response.status_code, response.json()) == (403, FORBIDDEN)


def test_forged_or_altered_urls(server, runtime, stored):
    key, _ = stored
    url = runtime.storage.url(key)
    query = parse_qs(urlparse(url).query)
    exp, sig = query["exp"][0], query["sig"][0]
    altered = {
        "secret": url_for(server, runtime, key, secret="not-the-server-secret"),
        "key": url.replace("original.png", "other.png"),
        "exp": url.replace(f"exp={exp}", f"exp={int(exp) + 86400}"),
        "nosig": url.replace(f"&sig={sig}", ""),
        "noexp": url.replace(f"exp={exp}&", ""),
    }

    assert httpx.get(url).status_code == 200
    for tamper, bad_url in altered.items():
        response = httpx.get(bad_url)
        assert (response.status_code, response.json()) == (403, FORBIDDEN), tamper


def test_valid_signature_for_a_missing_file_is_404(server, runtime):
    response = httpx.get(url_for(server, runtime, "teams/team_x/missing.jpg"))
    assert (response.status_code, response.json()) == (
        404, {"error": "Media not found."}
    )


def test_traversal_is_refused_even_when_signed(server, runtime):
    # The database sits next to the media directory: a traversal would reach it.
    assert (runtime.settings.data_dir / "lightbox.sqlite").exists()

    for raw_path in ("/media/teams/%2e%2e/%2e%2e/lightbox.sqlite",
                     "/media/..%2f..%2flightbox.sqlite",
                     "/media/%2fetc%2fpasswd"):
        key = unquote(raw_path[len("/media/"):])
        expires = int(time.time()) + 600
        sig = signing.sign(key, expires, secret=runtime.settings.secret_key)

        with httpx.Client() as client:
            request = client.build_request("GET", f"{server.url}{raw_path}")
            request.url = request.url.copy_with(
                raw_path=f"{raw_path}?exp={expires}&sig={sig}".encode()
            )
            response = client.send(request)

        # The signature is valid, so this is the key check answering, not the
        # router.
        assert (response.status_code, response.json()) == (
            404, {"error": "Media not found."}
        ), raw_path
