"""``GET /media/{key}``: the files behind signed URLs, for ``<img>`` tags and curl.

Mounted at the app root, outside ``/api/external``: the signature is the only
credential, so the URL works without the API key and stops working at its expiry.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from lightbox.deps import RuntimeDep
from lightbox.errors import Forbidden, NotFound
from lightbox.media import signing
from lightbox.media.storage import (
    InvalidMediaKey,
    LocalStorage,
    check_key,
    content_type_for,
)

router = APIRouter()

FORBIDDEN = "Invalid or expired media URL."
MISSING = "Media not found."


@router.api_route("/media/{key:path}", methods=["GET", "HEAD"],
                  include_in_schema=False)
def media(
    key: str, runtime: RuntimeDep, exp: str | None = None, sig: str | None = None
) -> Response:
    """Serve a stored file if the URL's signature is valid and not expired."""
    remaining = signing.verify(key, exp, sig, secret=runtime.settings.secret_key)
    if remaining <= 0:
        raise Forbidden(FORBIDDEN)
    try:
        check_key(key)
    except InvalidMediaKey:
        raise NotFound(MISSING) from None

    # Private: the URL is a capability, so shared caches must not keep it; the
    # browser may, until the URL itself expires.
    headers = {
        "Cache-Control": f"private, max-age={remaining}",
        "X-Content-Type-Options": "nosniff",
    }
    media_type = content_type_for(key)
    storage = runtime.storage

    if isinstance(storage, LocalStorage):
        path = storage.path(key)
        if not path.is_file():
            raise NotFound(MISSING)
        # FileResponse streams from disk and answers Range requests (video seeks).
        return FileResponse(path, media_type=media_type, headers=headers)

    try:
        data = storage.get(key)
    except NotFound:
        raise NotFound(MISSING) from None
    return Response(data, media_type=media_type, headers=headers)
