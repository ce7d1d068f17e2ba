"""``Idempotency-Key`` for API POSTs: a retried request returns the first reply.

A pure ASGI middleware (no BaseHTTPMiddleware), because it must read the whole
request body to fingerprint it and then hand the same bytes to the app. Replies are
stored per (HMAC of the API key header, Idempotency-Key) for 24 hours:

- first request: claim the key (an in-flight row), run the app, store the reply;
- same key, same request, finished: the stored reply, ``Idempotent-Replayed: true``;
- same key, different method/path/query/body: 409 (a multipart boundary or JSON
  key order does not make a body different);
- same key while the first is still running: 409 (retry later).

Replies that say the request never ran are not stored, so a retry can run it:
5xx, 401, 409 and 429 (a rate-limited request replayed as 429 for a day would
turn a short back-off into a day-long outage for that order).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response

from lightbox.accounts import service
from lightbox.accounts.auth import presented_key
from lightbox.accounts.models import IdempotencyKey
from lightbox.db import Database, utcnow
from lightbox.errors import Unauthorized

log = structlog.get_logger(__name__)

TTL = dt.timedelta(hours=24)
# How long a crashed process's in-flight claim blocks retries before a retry may
# take it over.
LOCK = dt.timedelta(seconds=120)
MAX_STORED_REPLY = 1024 * 1024
NOT_STORED = frozenset({401, 409, 429})
PURGE_EVERY_SECONDS = 600.0

REUSED = "Idempotency-Key reused with a different request body."
IN_FLIGHT = "A request with this Idempotency-Key is still in progress; retry later."
BAD_KEY = "Idempotency-Key: must be 1 to 255 printable ASCII characters"


@dataclass(frozen=True)
class _Claim:
    outcome: str  # "run", "replay", "reused", "in_flight" or "pass"
    status_code: int | None = None
    content_type: str | None = None
    body: bytes | None = None


def _valid_key(value: str) -> bool:
    return 0 < len(value) <= 255 and all(" " <= ch <= "~" for ch in value)


class IdempotencyMiddleware:
    """Wraps the app; ``runtime_getter()`` returns the Runtime once it is built."""

    def __init__(
        self,
        app,
        runtime_getter: Callable[[], object],
        *,
        path_prefix: str = "/api/external",
        max_body_bytes: int | None = None,
    ) -> None:
        self.app = app
        self.runtime_getter = runtime_getter
        self.path_prefix = path_prefix
        self.max_body_bytes = max_body_bytes
        self._next_purge = 0.0

    async def __call__(self, scope, receive, send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].startswith(self.path_prefix)
        ):
            await self.app(scope, receive, send)
            return

        headers = Headers(scope=scope)
        idempotency_key = headers.get("idempotency-key")
        raw_key = presented_key(headers)
        if idempotency_key is None or not raw_key:
            # No key to honour, or no caller to scope it to (auth will 401).
            await self.app(scope, receive, send)
            return
        if not _valid_key(idempotency_key):
            reply = JSONResponse({"error": BAD_KEY}, status_code=400)
            await reply(scope, receive, send)
            return

        runtime = self.runtime_getter()
        limit = self.max_body_bytes or runtime.settings.max_upload_bytes + 1024 * 1024
        messages, body, complete = await _read_body(receive, limit)
        replay_receive = _replaying(messages, receive)
        if not complete:
            # Too large to fingerprint (the app answers 413) or the client left.
            await self.app(scope, replay_receive, send)
            return

        secret = runtime.settings.secret_key.encode()
        key_hash = hmac.new(secret, raw_key.encode(), hashlib.sha256).hexdigest()
        request_hash = _fingerprint(scope, body)
        claim = await runtime.db.write_gate.run(
            self._claim, runtime, raw_key, key_hash, idempotency_key, request_hash
        )

        if claim.outcome == "pass":
            await self.app(scope, replay_receive, send)
        elif claim.outcome == "replay":
            log.info("idempotency.replayed", status=claim.status_code)
            headers_out = {"Idempotent-Replayed": "true"}
            reply = Response(claim.body, status_code=claim.status_code,
                             headers=headers_out, media_type=claim.content_type)
            await reply(scope, receive, send)
        elif claim.outcome == "reused":
            await JSONResponse({"error": REUSED}, status_code=409)(scope, receive, send)
        elif claim.outcome == "in_flight":
            await JSONResponse({"error": IN_FLIGHT}, status_code=409)(
                scope, receive, send
            )
        else:
            await self._run(scope, replay_receive, send, runtime.db,
                            (key_hash, idempotency_key))

    async def _run(self, scope, receive, send, db: Database, pk) -> None:
        """Run the app, passing its reply through, and store or drop the claim.

        The reply is stored before its last body chunk goes out, so a client that
        has the whole reply and retries at once gets a replay, not "in progress".
        """
        reply: dict = {"status": None, "content_type": None, "chunks": [],
                       "settled": False}

        async def capture(message) -> None:
            if message["type"] == "http.response.start":
                reply["status"] = message["status"]
                reply["content_type"] = Headers(
                    raw=message.get("headers", [])
                ).get("content-type")
            elif message["type"] == "http.response.body":
                reply["chunks"].append(message.get("body", b""))
                if not message.get("more_body", False):
                    await _settle(db, pk, reply)
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            if not reply["settled"]:
                reply["status"] = None
                await _settle(db, pk, reply)
            raise
        if not reply["settled"]:
            await _settle(db, pk, reply)

    def _claim(self, runtime, raw_key: str, key_hash: str, idempotency_key: str,
               request_hash: str) -> _Claim:
        db: Database = runtime.db
        self._purge_now_and_then(db)
        for _attempt in range(2):
            try:
                with db.session() as session:
                    return _claim_in(session, runtime.settings.secret_key, raw_key,
                                     (key_hash, idempotency_key), request_hash)
            except IntegrityError:
                # Another request inserted the same claim first; look again.
                continue
        return _Claim("in_flight")

    def _purge_now_and_then(self, db: Database) -> None:
        now = time.monotonic()
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY_SECONDS
        with db.session() as session:
            purge_expired(session)


async def _settle(db: Database, pk, reply: dict) -> None:
    """Store a reply that shows the request ran; drop the claim otherwise."""
    reply["settled"] = True
    status = reply["status"]
    body = b"".join(reply["chunks"])
    storable = (
        status is not None
        and status < 500
        and status not in NOT_STORED
        and len(body) <= MAX_STORED_REPLY
    )
    try:
        if storable:
            await db.write_gate.run(_store, db, pk, status, reply["content_type"],
                                    body)
        else:
            await db.write_gate.run(_release, db, pk)
    except Exception:
        # A lost row only means a retry runs again once the claim's lock expires;
        # never fail the reply over it.
        log.exception("idempotency.store_failed", status=status)


def _claim_in(session, secret_key: str, raw_key: str, pk, request_hash: str) -> _Claim:
    try:
        # A key that no longer authenticates gets no replay: the app answers 401.
        service.authenticate(session, raw_key, secret_key=secret_key)
    except Unauthorized:
        return _Claim("pass")

    now = utcnow()
    row = session.get(IdempotencyKey, pk)
    if row is not None and row.expires_at <= now:
        session.delete(row)
        session.flush()
        row = None

    if row is None:
        session.add(IdempotencyKey(
            key_hash=pk[0], idempotency_key=pk[1], request_hash=request_hash,
            locked_until=now + LOCK, expires_at=now + TTL,
        ))
        session.flush()
        return _Claim("run")
    if row.request_hash != request_hash:
        return _Claim("reused")
    if row.status_code is not None:
        return _Claim("replay", row.status_code, row.content_type, row.response_body)
    if row.locked_until > now:
        return _Claim("in_flight")

    log.warning("idempotency.stale_claim_taken_over")
    row.locked_until = now + LOCK
    session.flush()
    return _Claim("run")


def _store(db: Database, pk, status: int, content_type: str | None,
           body: bytes) -> None:
    with db.session() as session:
        row = session.get(IdempotencyKey, pk)
        if row is None:
            return
        row.status_code = status
        row.content_type = content_type
        row.response_body = body


def _release(db: Database, pk) -> None:
    with db.session() as session:
        session.execute(delete(IdempotencyKey).where(
            IdempotencyKey.key_hash == pk[0],
            IdempotencyKey.idempotency_key == pk[1],
            IdempotencyKey.status_code.is_(None),
        ))


def purge_expired(session, *, now: dt.datetime | None = None) -> int:
    """Delete stored replies older than their 24 hours; returns how many."""
    now = now or utcnow()
    expired = select(IdempotencyKey.key_hash).where(IdempotencyKey.expires_at <= now)
    count = len(session.scalars(expired).all())
    if count:
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
    return count


def _fingerprint(scope, body: bytes) -> str:
    """What makes two requests "the same": method, path, query and body content."""
    digest = hashlib.sha256()
    for part in (scope["method"], scope["path"], scope.get("query_string", b"")):
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    digest.update(_canonical_body(Headers(scope=scope).get("content-type", ""), body))
    return digest.hexdigest()


def _canonical_body(content_type: str, body: bytes) -> bytes:
    """The body with what a client may legitimately vary on a retry taken out.

    Multipart encoders pick a random boundary per request, so a retried upload
    differs in bytes but not in content; JSON may be re-serialised in another key
    order or spacing.
    """
    media_type, _, params = content_type.partition(";")
    media_type = media_type.strip().lower()
    if media_type.startswith("multipart/"):
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.lower() == "boundary" and value.strip('"'):
                boundary = value.strip('"').encode("latin-1")
                return media_type.encode() + b"\0" + body.replace(
                    b"--" + boundary, b"--<boundary>"
                )
    if media_type == "application/json":
        try:
            parsed = json.loads(body)
        except ValueError:
            return body  # the app answers 400; same bytes, same answer
        return json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()
    return body


async def _read_body(receive, limit: int) -> tuple[list[dict], bytes, bool]:
    """Buffer the request: (messages read, body, whether it was read whole)."""
    messages: list[dict] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, b"", False
        size += len(message.get("body", b""))
        if size > limit:
            return messages, b"", False
        if not message.get("more_body", False):
            body = b"".join(m.get("body", b"") for m in messages)
            return messages, body, True


def _replaying(messages: list[dict], receive):
    """A ``receive`` that returns the buffered messages, then the real ones."""
    pending = list(messages)

    async def replay():
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
