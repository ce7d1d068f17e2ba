"""The team workspace: server-rendered pages (Jinja2 + vendored htmx) on the API's
services, served by the same process.

``install(app)`` is the one call ``create_app`` needs: it adds the page routes,
mounts ``/static`` and makes errors on workspace paths render as pages in the
workspace layout (the API keeps its JSON errors).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"


def mount_static(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")


def install(app: FastAPI) -> None:
    """Add the workspace to ``app`` (idempotent; call after the API's handlers)."""
    if getattr(app.state, "web_installed", False):
        return
    from lightbox.web.errors import install_error_pages
    from lightbox.web.routes import router

    app.include_router(router)
    mount_static(app)
    install_error_pages(app)
    app.state.web_installed = True
