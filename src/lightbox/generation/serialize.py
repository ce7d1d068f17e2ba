"""Records as the API shows them (API.md section 3).

``record_json`` takes anything with the record's attribute names (an ORM
``Record`` or a row of selected columns). ``list_json`` is the same shape for a
list's rows, built for ten thousand records at a time: it unpacks the selected
columns positionally and reuses recently signed media URLs (``MediaUrls``).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import weakref
from collections.abc import Iterable
from typing import Any

from lightbox.db import isoformat
from lightbox.generation.models import DONE, FAILED
from lightbox.media.storage import Storage

FAILED_MESSAGE = "Rendering failed."

# The columns a list selects, in the order list_json unpacks them.
LIST_COLUMNS = (
    "id", "name", "kind", "status", "voting", "created_at", "image_key",
    "thumb_key", "error", "order_id", "product_id",
)


class MediaUrls:
    """Signed URLs for media keys, each reused for a short while.

    Signing costs an HMAC and a key check per URL, so a list of ten thousand
    rendered records spends most of its time signing twenty thousand URLs. A URL
    signed with a TTL of T stays valid for at least T, so handing out the same URL
    for ``reuse`` seconds (a tenth of T, at most five minutes) still gives every
    client at least 0.9 T; the step-rounded expiry of the signer makes those URLs
    identical anyway, which also lets browsers cache the images.

    # Limitation: the first listing of a large team still signs every URL (about
    # 10 µs each, so ~0.2 s for 10,000 rendered records), and the cache lives in
    # one process. A batch ``urls(keys)`` on Storage that derives the key and the
    # expiry once, or a per-record signed prefix, would lift it.
    """

    def __init__(self, storage: Storage, *, ttl: int, max_entries: int = 50_000):
        self.storage = storage
        self.reuse = min(300.0, ttl / 10)
        self.max_entries = max_entries
        self._urls: dict[str, tuple[str, float]] = {}

    def __call__(self, key: str) -> str:
        now = time.monotonic()
        entry = self._urls.get(key)
        if entry is not None and entry[1] > now:
            return entry[0]

        url = self.storage.url(key)
        if len(self._urls) >= self.max_entries:
            # Bounded memory: start over rather than track recency per hit.
            self._urls = {}
        self._urls[key] = (url, now + self.reuse)
        return url


_media_urls: weakref.WeakKeyDictionary[Any, MediaUrls] = weakref.WeakKeyDictionary()
_media_urls_lock = threading.Lock()


def media_urls(storage: Storage) -> MediaUrls:
    """The URL cache of one storage (one per instance, shared by its threads)."""
    urls = _media_urls.get(storage)
    if urls is None:
        with _media_urls_lock:
            urls = _media_urls.get(storage)
            if urls is None:
                ttl = int(getattr(storage, "default_ttl", 3600))
                urls = _media_urls[storage] = MediaUrls(storage, ttl=ttl)
    return urls


def raw_datetime(value: str | dt.datetime) -> dt.datetime:
    """A created_at as lists select it: SQLite's stored text, or a datetime.

    SQLite keeps UTCDateTime values as naive UTC text
    (``2026-03-20 14:30:00.123456``); PostgreSQL drivers return datetimes.
    """
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)


def _timestamp(value: str | dt.datetime) -> str:
    """``db.isoformat`` of a raw created_at, without parsing SQLite's text."""
    if isinstance(value, str) and len(value) == 26 and value[10] == " ":
        return f"{value[:10]}T{value[11:23]}Z"
    return isoformat(raw_datetime(value))


def record_json(row: Any, storage: Storage) -> dict[str, Any]:
    """The public shape of one record; media URLs are signed only once DONE."""
    status = row.status
    done = status == DONE
    out: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "thumbnail": storage.url(row.thumb_key) if done and row.thumb_key else "",
        "status": status,
        "voting": row.voting,
        "createdAt": isoformat(row.created_at),
        "kind": row.kind,
        "orderId": row.order_id,
        "productId": row.product_id,
    }

    if done and row.image_key:
        out["imageUrl"] = storage.url(row.image_key)
    if status == FAILED:
        out["error"] = row.error or FAILED_MESSAGE

    # Videos and reels keep their MP4 among the layers (only ORM rows carry them).
    if done and row.kind in ("video", "reel"):
        video = (getattr(row, "layers", None) or {}).get("video")
        if video:
            out["videoUrl"] = storage.url(video)
    return out


def list_json(rows: Iterable[tuple], storage: Storage) -> list[dict[str, Any]]:
    """``record_json`` for list rows (LIST_COLUMNS, created_at raw), at list speed."""
    url = media_urls(storage)
    items = []
    append = items.append
    for (record_id, name, kind, status, voting, created_at, image_key, thumb_key,
         error, order_id, product_id) in rows:
        item = {
            "id": record_id,
            "name": name,
            "thumbnail": "",
            "status": status,
            "voting": voting,
            "createdAt": _timestamp(created_at),
            "kind": kind,
            "orderId": order_id,
            "productId": product_id,
        }
        if status == DONE:
            if thumb_key:
                item["thumbnail"] = url(thumb_key)
            if image_key:
                item["imageUrl"] = url(image_key)
        elif status == FAILED:
            item["error"] = error or FAILED_MESSAGE
        append(item)
    return items
