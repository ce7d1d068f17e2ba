"""Fixtures for the workspace: the app with the web pages installed, and browsers.

``web`` serves ``create_app(runtime=...)``, which includes the workspace, on a
real Uvicorn, like the shared ``server`` fixture but in the embedded mode only.
``Browser`` is an httpx client that keeps the session cookie and reads the CSRF
token from the pages, as a person's browser would.
"""

from __future__ import annotations

import re

import httpx
import pytest
from conftest import serve

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def web(runtime, launch):
    # Not the shared ``server`` fixture: that one runs every test in both modes,
    # and the workspace's pages are the same code on either backend.
    return serve(runtime, launch)


class Browser:
    """A cookie-keeping client that submits forms with the page's CSRF token."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=60,
                                   follow_redirects=False)
        self.csrf = ""

    def get(self, path: str, **kwargs) -> httpx.Response:
        response = self.client.get(path, **kwargs)
        found = _CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True,
             **kwargs) -> httpx.Response:
        data = dict(data or {})
        if csrf:
            if not self.csrf:
                self.get("/signin")
            data.setdefault("csrf_token", self.csrf)
        response = self.client.post(path, data=data, **kwargs)
        found = _CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        elif response.status_code == 303 and "set-cookie" in response.headers:
            # A new session (sign-in) has a new token: a browser would follow.
            self.get(response.headers["location"])
        return response

    def follow(self, response: httpx.Response) -> httpx.Response:
        assert response.status_code == 303, (response.status_code, response.text)
        return self.get(response.headers["location"])

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def browser(web):
    """Open more browsers (each its own cookie jar); all close at teardown."""
    opened: list[Browser] = []

    def _open() -> Browser:
        b = Browser(web.url)
        opened.append(b)
        return b

    yield _open
    for b in opened:
        b.close()


def _sign_up(b: Browser, *, team: str, email: str, credits: int = 0,
             runtime=None) -> str:
    """Create the studio through /setup; returns the new team's id."""
    b.get("/setup")
    response = b.post("/setup", {"team": "new", "team_name": team, "email": email,
                                 "password": PASSWORD})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/products"
    from lightbox.accounts.models import Team

    with runtime.db.session() as session:
        from sqlalchemy import select

        team_id = session.scalar(select(Team.id).where(Team.name == team))
        if credits:
            from lightbox.credits import service as credits_service

            credits_service.grant(session, team_id=team_id, amount=credits,
                                  note="test grant")
    return team_id


@pytest.fixture
def signup(runtime):
    """``signup(browser, team=, email=, credits=0) -> team_id`` via /setup."""

    def _signup(b: Browser, *, team: str, email: str, credits: int = 0) -> str:
        return _sign_up(b, team=team, email=email, credits=credits, runtime=runtime)

    return _signup


@pytest.fixture
def password() -> str:
    return PASSWORD
