"""Templates and the two ways a workspace page answers: a page, or a redirect.

Every response goes through ``page``/``fragment``/``redirect``, so the session
cookie is (re)sent whenever it changed, and every template sees the CSRF token,
the signed-in viewer and a ``media`` function that turns storage keys into
signed URLs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from lightbox.generation.serialize import media_urls
from lightbox.web.session import load_session, save_session

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _when(value: dt.datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


TEMPLATES.env.filters["when"] = _when


def _context(request: Request, values: dict[str, Any]) -> dict[str, Any]:
    runtime = request.app.state.runtime
    urls = media_urls(runtime.storage)
    return {
        "csrf_token": load_session(request).csrf,
        "viewer": getattr(request.state, "viewer", None),
        "media": lambda key: urls(key) if key else "",
        "prices": runtime.settings.prices,
        **values,
    }


def page(request: Request, template: str, *, status: int = 200,
         **values: Any) -> Response:
    response = TEMPLATES.TemplateResponse(
        request, template, _context(request, values), status_code=status
    )
    response.headers["Cache-Control"] = "no-store"
    return save_session(request, response)


fragment = page  # the same machinery; the name says what the template renders


def redirect(request: Request, url: str) -> Response:
    """303 to ``url``; for htmx, an ``HX-Redirect`` so the whole page moves."""
    if request.headers.get("HX-Request") == "true":
        response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    return save_session(request, response)


def field_of(message: str) -> str:
    """The form field a service error names (``"name: required"`` -> ``name``)."""
    head, sep, _ = message.partition(":")
    return head.strip() if sep and " " not in head.strip() else ""
