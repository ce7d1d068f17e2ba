"""Where media bytes live: a small interface and its backends.

Keys are relative, slash-separated paths such as
``teams/<team_id>/products/<id>/original.jpg``; the backend decides where they go
(a directory under the data dir, a bucket). Keys are checked on every call, so a
key that climbs out of the root (``..``), is absolute or holds odd characters is
refused wherever it comes from.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import parse_qs, urlparse

import structlog

from lightbox.errors import NotFound
from lightbox.media import signing

if TYPE_CHECKING:
    from lightbox.config import Settings

log = structlog.get_logger(__name__)

CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".mp4": "video/mp4",
    ".json": "application/json",
}
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
_MAX_KEY_LENGTH = 512


class InvalidMediaKey(ValueError):
    """A key that is not a plain relative path inside the store."""


def check_key(key: str) -> str:
    """``key`` itself if it is a safe relative key, else InvalidMediaKey.

    Every segment starts with a letter, digit or underscore and holds only
    ``[A-Za-z0-9_.-]``: that rules out ``.``/``..``, hidden files, empty segments,
    backslashes, drive letters, NUL bytes and absolute paths at once.
    """
    if not isinstance(key, str) or not key or len(key) > _MAX_KEY_LENGTH:
        raise InvalidMediaKey(f"invalid media key {key!r}")
    for segment in key.split("/"):
        if not _SEGMENT.fullmatch(segment) or segment.endswith("."):
            raise InvalidMediaKey(f"invalid media key {key!r}")
    return key


def content_type_for(key: str) -> str:
    """The MIME type for a key, from its extension."""
    return CONTENT_TYPES.get(Path(key).suffix.lower(), "application/octet-stream")


@runtime_checkable
class Storage(Protocol):
    def put(self, key: str, data: bytes, *, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def url(self, key: str, *, ttl: int | None = None) -> str: ...


class LocalStorage:
    """Files under one directory, served by the API's ``/media`` route.

    Writes go to a temporary file in the target directory and are renamed into
    place, so a reader never sees half a file and two workers writing the same
    deterministic key leave one whole copy.
    """

    def __init__(
        self, root: str | os.PathLike, *, base_url: str, secret_key: str,
        default_ttl: int,
    ) -> None:
        self.root = Path(root).resolve()
        self.base_url = base_url.rstrip("/")
        self._secret_key = secret_key
        self.default_ttl = int(default_ttl)
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """The file a key maps to (it may not exist); refuses unsafe keys."""
        path = (self.root / check_key(key)).resolve()
        # check_key already forbids escaping; this also catches a symlink inside
        # the root that points outside it.
        if not path.is_relative_to(self.root):
            raise InvalidMediaKey(f"invalid media key {key!r}")
        return path

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)

        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        log.debug("media.stored", key=key, size=len(data), content_type=content_type)

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"Media not found: {key}") from None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        """Remove a key; a missing one is not an error (deletes are retried)."""
        self.path(key).unlink(missing_ok=True)

    def url(self, key: str, *, ttl: int | None = None) -> str:
        check_key(key)
        return signing.signed_url(
            self.base_url, key, secret=self._secret_key,
            ttl=self.default_ttl if ttl is None else int(ttl),
        )

    def verify(self, key: str, exp: str | None, sig: str | None) -> int:
        """Seconds a ``/media`` URL stays valid; 0 for forged or expired ones."""
        return signing.verify(key, exp, sig, secret=self._secret_key)


class S3Storage:
    """Objects in an S3-compatible bucket (AWS, MinIO, Ceph...), under a prefix.

    ``url`` hands out the same HMAC-signed ``/media`` URLs as the local backend
    (the API streams the object), so clients never need to reach the object
    store; with ``presign`` it hands out the store's own presigned GET URLs
    instead, and the bytes never pass through the API.
    """

    def __init__(
        self, bucket: str, *, prefix: str = "", client: Any, base_url: str,
        secret_key: str, default_ttl: int, presign: bool = False,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        self.base_url = base_url.rstrip("/")
        self._secret_key = secret_key
        self.default_ttl = int(default_ttl)
        self.presign = presign

    def __repr__(self) -> str:
        return f"S3Storage({self.bucket!r}, prefix={self.prefix!r})"

    def object_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.object_key(key),
                               Body=data, ContentType=content_type)
        log.debug("media.stored", key=key, size=len(data), content_type=content_type)

    def get(self, key: str) -> bytes:
        try:
            reply = self.client.get_object(Bucket=self.bucket,
                                           Key=self.object_key(key))
        except Exception as exc:
            if _s3_code(exc) in ("NoSuchKey", "404", "NotFound"):
                raise NotFound(f"Media not found: {key}") from None
            raise
        return reply["Body"].read()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except Exception as exc:
            if _s3_code(exc) in ("NoSuchKey", "404", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def url(self, key: str, *, ttl: int | None = None) -> str:
        ttl = self.default_ttl if ttl is None else int(ttl)
        if self.presign:
            # SigV4 presigned URLs live at most 7 days.
            return self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self.object_key(key)},
                ExpiresIn=min(ttl, 7 * 24 * 3600),
            )
        check_key(key)
        return signing.signed_url(self.base_url, key, secret=self._secret_key,
                                  ttl=ttl)

    def verify(self, key: str, exp: str | None, sig: str | None) -> int:
        return signing.verify(key, exp, sig, secret=self._secret_key)


def _s3_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _open_s3(url: str, settings: Settings) -> S3Storage:
    """``s3://bucket/prefix?endpoint_url=...&region=...&presign=1``.

    Credentials come from boto3's usual chain (``AWS_ACCESS_KEY_ID`` ...).
    """
    try:
        import boto3
    except ImportError:  # an optional dependency: pip install lightbox[scale]
        raise ValueError(
            "LIGHTBOX_MEDIA_URL is s3:// but boto3 is not installed "
            "(pip install 'lightbox[scale]')"
        ) from None

    parsed = urlparse(url)
    if not parsed.netloc:
        raise ValueError(f"LIGHTBOX_MEDIA_URL {url!r} names no bucket")
    options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    client = boto3.client(
        "s3",
        endpoint_url=options.get("endpoint_url") or None,
        region_name=options.get("region") or None,
    )
    return S3Storage(
        parsed.netloc,
        prefix=parsed.path,
        client=client,
        base_url=settings.base_url,
        secret_key=settings.secret_key,
        default_ttl=settings.media_url_ttl_seconds,
        presign=options.get("presign", "0").lower() in ("1", "true", "yes"),
    )


def open_storage(settings: Settings) -> Storage:
    """The storage ``settings.media_url`` names: empty or ``file://`` for files
    under a directory, ``s3://bucket/prefix?...`` for an object store."""
    url = settings.media_url.strip()
    if url.startswith("s3://"):
        return _open_s3(url, settings)
    if not url:
        root: Path = settings.media_dir
    elif url.startswith("file://"):
        root = Path(urlparse(url).path)
    else:
        raise ValueError(
            f"unsupported LIGHTBOX_MEDIA_URL {url!r} (supported: empty, file://, "
            "s3://)"
        )

    return LocalStorage(
        root,
        base_url=settings.base_url,
        secret_key=settings.secret_key,
        default_ttl=settings.media_url_ttl_seconds,
    )
