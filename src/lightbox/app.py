"""``create_app()``: the API, the media route, health, metrics and error handling."""

from __future__ import annotations

import time
import uuid
from contextlib import asynccontextmanager
from functools import partial

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from lightbox import metrics
from lightbox.accounts.idempotency import IdempotencyMiddleware
from lightbox.api import build_api_router
from lightbox.config import Settings, get_settings
from lightbox.errors import LightboxError, RateLimited
from lightbox.logs import configure_logging
from lightbox.media.routes import router as media_router
from lightbox.media.uploads import UploadLimitMiddleware
from lightbox.runtime import Runtime, build_runtime
from lightbox.web import install as install_web

log = structlog.get_logger(__name__)

# How many full-size files one workspace upload form may carry.
WEB_UPLOAD_FILES = 10

DESCRIPTION = """\
Lightbox is a self-hosted product-photo studio. This API is compatible with the
hosted "external API" that e-commerce teams script against: change the base URL and
the key, and the same script works.

Authenticate with `X-Api-Key: mk_live_<keyId>.<secret>` (or `Authorization: Bearer`).
Errors are always `{"error": "<message>"}`. Generation is asynchronous: a
`register-*` call reserves credits and returns record ids at once; poll the list
endpoints (or `GET /orders/{orderId}`) until the records are `DONE`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    start_workers: bool = True,
) -> FastAPI:
    """Build the ASGI app.

    Given a ``runtime``, the app uses it and leaves closing it to the caller (tests
    do this to share one runtime with their assertions); otherwise the app builds
    its own on start-up and closes it on shutdown.
    """
    settings = runtime.settings if runtime else (settings or get_settings())
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        owned = runtime is None
        rt = runtime or build_runtime(settings)
        prepare(rt)
        app.state.runtime = rt
        if start_workers and settings.workers > 0:
            rt.queue.start_consumers(settings.workers)
        log.info("app.started", workers=settings.workers if start_workers else 0,
                 database=rt.db.engine.dialect.name)
        try:
            yield
        finally:
            if owned:
                rt.close()
            elif start_workers:
                rt.queue.stop()

    app = FastAPI(
        title="Lightbox API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    if runtime is not None:
        app.state.runtime = runtime

    app.include_router(build_api_router())
    app.include_router(media_router)
    _add_operational_routes(app)
    _add_error_handlers(app)
    # The workspace wraps the handlers above: its pages answer errors with HTML,
    # everything else keeps the JSON {"error": ...} body.
    install_web(app)

    # Order matters: the request context wraps everything, so the request id and
    # the access log cover replays served by the idempotency layer too.
    app.add_middleware(IdempotencyMiddleware, runtime_getter=lambda: app.state.runtime)
    # Refuse oversized bodies before Starlette spools them to disk: one file per
    # API upload; the workspace's upload form takes several files at once.
    app.add_middleware(UploadLimitMiddleware, max_bytes=settings.max_upload_bytes)
    app.add_middleware(UploadLimitMiddleware, path_prefix="/",
                       max_bytes=settings.max_upload_bytes * WEB_UPLOAD_FILES)
    app.add_middleware(RequestContextMiddleware)
    app.openapi = partial(_openapi_without_422, app)
    return app


def _openapi_without_422(app: FastAPI) -> dict:
    """FastAPI documents validation errors as 422; this API answers them with 400."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version,
                             description=app.description, routes=app.routes)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
        app.openapi_schema = schema
    return app.openapi_schema


def prepare(runtime: Runtime) -> None:
    """Bring the schema up to date and make sure the system presets exist."""
    from lightbox.catalog.presets import ensure_system_presets
    from lightbox.migrate import upgrade

    upgrade(runtime.db)
    with runtime.db.session() as session:
        ensure_system_presets(session)


class RequestContextMiddleware:
    """Request id, access log and HTTP metrics, as plain ASGI (no body buffering)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 64 else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_id(message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                extra = [(b"x-request-id", request_id.encode("latin-1"))]
                rate_limit = scope["state"].get("rate_limit")
                if rate_limit is not None:
                    extra += [(b"x-ratelimit-limit", str(rate_limit[0]).encode()),
                              (b"x-ratelimit-remaining", str(rate_limit[1]).encode())]
                message["headers"] = list(message.get("headers") or []) + extra
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            status = status_holder["status"]
            metrics.http_requests.labels(scope["method"], route, str(status)).inc()
            metrics.http_latency.labels(route).observe(elapsed)
            if route not in ("/healthz", "/metrics"):
                log.info("http.request", method=scope["method"], route=route,
                         status=status, duration_ms=round(elapsed * 1000, 1))


def _add_operational_routes(app: FastAPI) -> None:
    @app.get("/healthz", include_in_schema=False)
    def healthz(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        try:
            with runtime.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            depth = runtime.queue.depth()
        except Exception as exc:  # a probe reports, it never raises
            log.warning("health.failed", error=type(exc).__name__)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok", "queueDepth": depth})

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics(request: Request) -> PlainTextResponse:
        try:
            metrics.queue_depth.set(request.app.state.runtime.queue.depth())
        except Exception:
            log.warning("metrics.queue_depth_unavailable")
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _field_message(error: dict) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part not in ("body",
                                                                       "query",
                                                                       "path",
                                                                       "header")]
    field = ".".join(loc) or "body"
    if error.get("type") == "json_invalid":
        return "body: must be valid JSON"
    if error.get("type") == "missing":
        return f"{field}: required"
    return f"{field}: {error.get('msg', 'invalid value')}"


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LightboxError)
    async def domain_error(_request: Request, exc: LightboxError) -> JSONResponse:
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        return JSONResponse({"error": exc.message}, status_code=exc.status_code,
                            headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request,
                              exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        message = _field_message(errors[0]) if errors else "Bad request."
        return JSONResponse({"error": message}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request,
                         exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        return JSONResponse({"error": message}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(DataError)
    @app.exception_handler(UnicodeEncodeError)
    async def unstorable_value(_request: Request, exc: Exception) -> JSONResponse:
        # Valid JSON that no database column takes: PostgreSQL refuses NUL in
        # text, UTF-8 refuses unpaired surrogates ("\ud924").
        log.info("request.unstorable_value", error=type(exc).__name__)
        return JSONResponse(
            {"error": "body: text must be valid Unicode without NUL characters, "
                      "and numbers within range."},
            status_code=400,
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
        # A dropped or refused database connection: the client may retry; the pool
        # discards the broken connection (pre-ping), so the next request recovers.
        log.warning("db.unavailable", error=type(exc).__name__)
        return JSONResponse(
            {"error": "Service temporarily unavailable. Please retry."},
            status_code=503, headers={"Retry-After": "1"},
        )

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("http.unhandled_error", error=type(exc).__name__)
        return JSONResponse({"error": "Internal server error."}, status_code=500)
