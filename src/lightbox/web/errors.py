"""Errors on workspace paths as pages in the workspace layout, never a trace.

The app's handlers render ``{"error": ...}`` JSON; ``install_error_pages`` wraps
each of them so that a request for a workspace page gets an HTML page with the
same status instead, while the API, media and operational paths keep the JSON.
"""

from __future__ import annotations

from urllib.parse import quote

import structlog
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from lightbox.errors import LightboxError
from lightbox.web.auth import SignInRequired
from lightbox.web.render import page, redirect

log = structlog.get_logger(__name__)

_NOT_WEB = ("/api/", "/media/", "/healthz", "/metrics", "/docs", "/redoc",
            "/openapi.json", "/static/")
_TITLES = {
    400: "That did not work",
    401: "Please sign in",
    402: "Not enough credits",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed",
    409: "That clashes with something",
    413: "Upload too large",
    415: "Not a supported image",
    429: "Slow down",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}


def is_web_path(path: str) -> bool:
    return not path.startswith(_NOT_WEB)


def error_page(request: Request, status: int, message: str) -> Response:
    return page(request, "error.html", status=status,
                title=_TITLES.get(status, "Error"), status_code=status,
                message=message)


def _web_response(request: Request, exc: Exception) -> Response:
    if isinstance(exc, SignInRequired):
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        return redirect(request, "/signin?next=" + quote(target, safe=""))
    if isinstance(exc, LightboxError):
        return error_page(request, exc.status_code, exc.message)
    if isinstance(exc, RequestValidationError):
        return error_page(request, 400, "The form was incomplete. Please retry.")
    if isinstance(exc, StarletteHTTPException):
        message = "There is nothing at this address." if exc.status_code == 404 \
            else (exc.detail if isinstance(exc.detail, str) else "Request failed.")
        return error_page(request, exc.status_code, message)

    log.exception("web.unhandled_error", error=type(exc).__name__,
                  path=request.url.path)
    return error_page(request, 500, "An unexpected error occurred. It was logged; "
                      "please retry in a moment.")


def install_error_pages(app: FastAPI) -> None:
    for exc_class in (LightboxError, RequestValidationError, StarletteHTTPException,
                      Exception):
        original = app.exception_handlers.get(exc_class)
        app.add_exception_handler(exc_class, _wrap(original))


def _wrap(original):
    async def handler(request: Request, exc: Exception) -> Response:
        if is_web_path(request.url.path) or original is None:
            try:
                return _web_response(request, exc)
            except Exception:  # the error page itself failed: fall back to JSON
                log.exception("web.error_page_failed")
                if original is None:
                    raise
        return await original(request, exc)

    return handler
