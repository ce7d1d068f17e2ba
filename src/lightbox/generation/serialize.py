"""Records as the API shows them (API.md section 3).

One function serves lists, orders and uploads; it takes anything with the record's
attribute names (an ORM ``Record`` or a row of selected columns), so lists can
select only the columns they show and skip building ORM objects.
"""

from __future__ import annotations

from typing import Any

from lightbox.db import isoformat
from lightbox.generation.models import DONE, FAILED
from lightbox.media.storage import Storage

FAILED_MESSAGE = "Rendering failed."

# The columns record_json reads; lists select exactly these.
LIST_COLUMNS = (
    "id", "name", "kind", "status", "voting", "created_at", "image_key",
    "thumb_key", "error", "order_id", "product_id",
)


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
    layers = getattr(row, "layers", None)
    if done and layers and layers.get("video"):
        out["videoUrl"] = storage.url(layers["video"])
    return out
