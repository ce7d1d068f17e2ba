"""Who is asking: the signed-in viewer, the owner-only gate and the CSRF check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from lightbox.accounts import service as accounts
from lightbox.accounts.models import Team
from lightbox.credits import service as credits
from lightbox.deps import SessionDep
from lightbox.errors import Forbidden, LightboxError
from lightbox.web.session import load_session, password_fingerprint

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_MESSAGE = "The form expired or did not come from this site. Reload and retry."
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class SignInRequired(LightboxError):
    """Raised by ``require_viewer``; the web error handler redirects to /signin."""

    status_code = 401
    default_message = "Please sign in."


@dataclass(frozen=True)
class Viewer:
    user_id: str
    email: str
    role: str
    team_id: str
    team_name: str
    balance: int
    available: int

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"


def require_viewer(request: Request, session: SessionDep) -> Viewer:
    """The signed-in user of this request, else SignInRequired."""
    web_session = load_session(request)
    user = None
    if web_session.user_id:
        user = accounts.get_user(session, user_id=web_session.user_id)
    if user is None or password_fingerprint(user.password_hash) != (
        web_session.fingerprint
    ):
        raise SignInRequired()

    team = session.get(Team, user.team_id)
    summary = credits.summary(session, team_id=user.team_id)
    viewer = Viewer(
        user_id=user.id, email=user.email, role=user.role, team_id=user.team_id,
        team_name=team.name if team else "", balance=summary.balance,
        available=summary.available,
    )
    request.state.viewer = viewer
    return viewer


def require_owner(viewer: Annotated[Viewer, Depends(require_viewer)]) -> Viewer:
    if not viewer.is_owner:
        raise Forbidden("Only the team's owner can manage keys and members.")
    return viewer


async def csrf_protect(request: Request) -> None:
    """Refuse (403) an unsafe request without this session's CSRF token.

    htmx sends the token as a header (``hx-headers`` on <body>); plain forms as a
    hidden field. The form is parsed once here and cached on the request, so the
    endpoint reads the same data.
    """
    if request.method not in _UNSAFE:
        return
    session = load_session(request)
    presented = request.headers.get(CSRF_HEADER)
    if not presented:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("multipart/form-data",
                                    "application/x-www-form-urlencoded")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            presented = value if isinstance(value, str) else None
    if not session.check_csrf(presented):
        raise Forbidden(CSRF_MESSAGE)


ViewerDep = Annotated[Viewer, Depends(require_viewer)]
OwnerDep = Annotated[Viewer, Depends(require_owner)]
