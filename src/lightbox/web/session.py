"""The workspace's browser session: one signed cookie, and who it signs in.

The cookie carries a CSRF token, and once signed in the user id and a
fingerprint of the user's password hash, signed with ``settings.secret_key``
(itsdangerous) and refused after ``MAX_AGE``. Nothing secret is in it; the
fingerprint makes every old cookie invalid when the password changes, and the
user row is read on every request, so a removed member is signed out at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

# Limitation: the session is stateless, so signing out forgets the cookie in this
# browser but a copy taken earlier stays valid until MAX_AGE (or a password
# change). A server-side session id table checked per request would lift it.
COOKIE = "lightbox_session"
MAX_AGE = 14 * 24 * 3600
_SALT = "lightbox.web.session"


@dataclass
class WebSession:
    """The decoded cookie; ``dirty`` when the response must send a new one."""

    csrf: str
    user_id: str | None = None
    fingerprint: str | None = None
    dirty: bool = field(default=False, compare=False)

    def sign_in(self, user_id: str, password_hash: str) -> None:
        # A new CSRF token on sign-in: a token planted before it is worth nothing.
        self.user_id = user_id
        self.fingerprint = password_fingerprint(password_hash)
        self.csrf = secrets.token_urlsafe(32)
        self.dirty = True

    def sign_out(self) -> None:
        self.user_id = None
        self.fingerprint = None
        self.csrf = secrets.token_urlsafe(32)
        self.dirty = True

    def check_csrf(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(presented, self.csrf)


def password_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def load_session(request: Request) -> WebSession:
    """The request's session (cached on it); a fresh anonymous one if none is valid."""
    cached = getattr(request.state, "web_session", None)
    if cached is not None:
        return cached

    settings = request.app.state.runtime.settings
    raw = request.cookies.get(COOKIE)
    session = None
    if raw:
        try:
            data = _serializer(settings.secret_key).loads(raw, max_age=MAX_AGE)
            session = WebSession(csrf=data["c"], user_id=data.get("u"),
                                 fingerprint=data.get("f"))
        except (BadSignature, KeyError, TypeError):
            session = None
    if session is None:
        session = WebSession(csrf=secrets.token_urlsafe(32), dirty=True)

    request.state.web_session = session
    return session


def save_session(request: Request, response: Response) -> Response:
    """Send the cookie when the session is new or changed."""
    session = getattr(request.state, "web_session", None)
    if session is None or not session.dirty:
        return response

    settings = request.app.state.runtime.settings
    value = _serializer(settings.secret_key).dumps(
        {"c": session.csrf, "u": session.user_id, "f": session.fingerprint}
    )
    response.set_cookie(
        COOKIE, value, max_age=MAX_AGE, httponly=True, samesite="lax",
        secure=settings.base_url.startswith("https://"), path="/",
    )
    return response
