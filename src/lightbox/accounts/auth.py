"""The API's authentication dependency: key, rate limit, then scope.

Order matters. The key is checked first, so unauthenticated traffic cannot spend a
real key's rate budget; every authenticated request then counts against the key's
window, including ones refused for a missing scope.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from lightbox.accounts import service
from lightbox.accounts.models import ApiKey
from lightbox.db import Database
from lightbox.deps import RuntimeDep
from lightbox.errors import Forbidden, RateLimited, Unauthorized

log = structlog.get_logger(__name__)

BEARER = "bearer "


@dataclass(frozen=True)
class ApiPrincipal:
    """Who is calling: the team whose content and credits the request uses."""

    team_id: str
    key_id: str
    scopes: frozenset[str]


def presented_key(headers) -> str | None:
    """The key a request carries: ``X-Api-Key`` wins over ``Authorization: Bearer``."""
    value = headers.get("x-api-key")
    if value:
        return value.strip()
    authorization = headers.get("authorization") or ""
    if authorization[: len(BEARER)].lower() == BEARER:
        return authorization[len(BEARER):].strip() or None
    return None


# The key check uses sessions of its own, not the request's: the request's
# transaction then starts at its first query, so an upload is decoded before any
# database lock is taken, and a GET never writes in its read-only transaction.


def _authenticate(db: Database, raw_key: str, secret_key: str) -> ApiKey:
    with db.session(readonly=True) as session:
        return service.authenticate(session, raw_key, secret_key=secret_key)


def _touch(db: Database, key_id: str) -> None:
    with db.session() as session:
        service.touch_api_key(session, session.get(ApiKey, key_id))


def require_scope(scope: str):
    """A dependency that admits API keys holding ``scope`` and returns the caller.

    Raises Unauthorized (401), RateLimited (429, ``retry_after`` for the handler's
    ``Retry-After``) or Forbidden (403). The window's state goes to
    ``request.state.rate_limit``, from which the request middleware sets
    ``X-RateLimit-Limit`` and ``X-RateLimit-Remaining`` on whatever the reply is.
    """

    async def dependency(
        request: Request, runtime: RuntimeDep
    ) -> ApiPrincipal:
        raw_key = presented_key(request.headers)
        if not raw_key:
            raise Unauthorized()
        # The lookup and the rate limiter may block (database, Redis); keep them
        # off the event loop. Binding log context here, in the request's task,
        # is what lets the access log and the endpoint see team_id and key_id.
        key = await run_in_threadpool(
            _authenticate, runtime.db, raw_key, runtime.settings.secret_key
        )
        if service.touch_due(key):
            await runtime.db.write_gate.run(_touch, runtime.db, key.id)
        structlog.contextvars.bind_contextvars(team_id=key.team_id, key_id=key.id)

        decision = await run_in_threadpool(
            runtime.rate_limiter.hit, f"key:{key.id}"
        )
        # The request context middleware copies these onto every response of
        # this request, error replies (429, 403, 404 ...) included.
        request.state.rate_limit = (decision.limit, decision.remaining)
        if not decision.allowed:
            log.info("ratelimit.exceeded", retry_after=decision.retry_after)
            raise RateLimited(decision.retry_after)

        if scope not in key.scope_set:
            raise Forbidden(f"Missing required scope: '{scope}'.")
        return ApiPrincipal(team_id=key.team_id, key_id=key.id, scopes=key.scope_set)

    dependency.__name__ = f"require_scope_{scope.replace('.', '_')}"
    return dependency
