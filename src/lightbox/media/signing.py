"""Signed, expiring media URLs.

A URL carries the storage key, an expiry (Unix seconds) and an HMAC-SHA256 of both
under a key derived from ``settings.secret_key``. Anyone holding the URL can fetch
the file until it expires (a plain ``<img>`` tag or ``curl`` needs no API key), and
nobody can forge one for another key or a later expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import time
from functools import lru_cache
from urllib.parse import quote

# Separates these signatures from any other HMAC made with the same secret.
_PURPOSE = b"lightbox.media-url.v1"

# Expiries are rounded up to a step of the TTL, so the same file listed twice within
# the step gets the same URL and the browser's cache can serve it the second time.
_MAX_STEP_SECONDS = 3600


@lru_cache(maxsize=8)
def _signing_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()


def sign(key: str, expires: int, *, secret: str) -> str:
    """The URL-safe base64 signature of ``key`` valid until ``expires``."""
    message = f"{key}\n{int(expires)}".encode()
    digest = hmac.new(_signing_key(secret), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def expiry(ttl: int, *, now: float | None = None) -> int:
    """An expiry at least ``ttl`` seconds away, rounded up to a cache-friendly step."""
    if ttl < 1:
        raise ValueError(f"ttl must be at least 1 second, got {ttl}")
    now = time.time() if now is None else now
    step = max(1, min(_MAX_STEP_SECONDS, ttl // 24))
    return int(math.ceil((now + ttl) / step) * step)


def signed_url(
    base_url: str, key: str, *, secret: str, ttl: int, now: float | None = None
) -> str:
    """The absolute URL under ``<base_url>/media/`` that serves ``key``."""
    expires = expiry(ttl, now=now)
    path = quote(key, safe="/")
    signature = sign(key, expires, secret=secret)
    return f"{base_url.rstrip('/')}/media/{path}?exp={expires}&sig={signature}"


def verify(
    key: str, exp: str | int | None, sig: str | None, *, secret: str,
    now: float | None = None,
) -> int:
    """Seconds the URL stays valid (> 0), or 0 if it is forged, malformed or expired.

    The comparison is constant-time, so timing reveals nothing of the right value.
    """
    if exp is None or sig is None:
        return 0
    try:
        expires = int(exp)
    except (TypeError, ValueError):
        return 0

    expected = sign(key, expires, secret=secret)
    if not hmac.compare_digest(expected.encode(), str(sig).encode()):
        return 0

    now = time.time() if now is None else now
    return max(0, int(expires - now))
