"""First visit (create the studio), sign-in, sign-out and accepting invitations.

First visit: while the instance has no user at all, ``/setup`` creates the owner
and either a new team or, when teams without any user exist (the demo team that
``lightbox serve`` makes), lets the owner claim one of them. After that, setup is
gone for good and people join by invitation.
"""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Request

from lightbox.accounts import service as accounts
from lightbox.accounts.models import Team
from lightbox.deps import SessionDep
from lightbox.errors import BadRequest, Conflict, NotFound, Unauthorized
from lightbox.web.auth import SignInRequired, require_viewer
from lightbox.web.render import field_of, page, redirect
from lightbox.web.session import load_session

log = structlog.get_logger(__name__)

# Limitation: on a fresh instance the first visitor becomes the owner, so an
# instance must not be reachable by strangers before its owner has visited. A
# one-time setup token printed by `lightbox serve` would lift it.

router = APIRouter()

Text = Annotated[str, Form()]
OptionalText = Annotated[str, Form()]


def _safe_next(target: str | None) -> str:
    """Only a path on this site: ``//evil.example`` and absolute URLs are refused."""
    if target and target.startswith("/") and not target.startswith("//") and \
            "\\" not in target:
        return target
    return "/products"


@router.get("/")
def home(request: Request, session: SessionDep):
    if accounts.count_users(session) == 0:
        return redirect(request, "/setup")
    try:
        require_viewer(request, session)
    except SignInRequired:
        return redirect(request, "/signin")
    return redirect(request, "/products")


def _setup_page(request: Request, session, *, status: int = 200, **values):
    claimable = accounts.teams_without_users(session)
    return page(request, "pages/setup.html", status=status, title="Create your studio",
                claimable=claimable, **values)


@router.get("/setup")
def setup_form(request: Request, session: SessionDep):
    if accounts.count_users(session) > 0:
        return redirect(request, "/signin")
    return _setup_page(request, session, form={"team": "new"})


@router.post("/setup")
def setup(
    request: Request, session: SessionDep, email: Text = "", password: Text = "",
    team_name: OptionalText = "", team: OptionalText = "new",
):
    """Create the first owner and their team (new, or a claimed user-less one)."""
    if accounts.count_users(session) > 0:
        return redirect(request, "/signin")
    form = {"email": email, "team_name": team_name, "team": team}

    try:
        if team == "new":
            team_id = accounts.create_team(session, name=team_name).id
        else:
            claimable = {t.id for t in accounts.teams_without_users(session)}
            if team not in claimable:
                raise BadRequest("team: choose a team from the list")
            team_id = team
        user = accounts.create_user(session, team_id=team_id, email=email,
                                    password=password, role="owner")
    except (BadRequest, Conflict) as exc:
        session.rollback()
        field = field_of(exc.message) or ("team_name" if "team" in exc.message
                                          else "email")
        if field == "name":
            field = "team_name"
        return _setup_page(request, session, status=400, form=form,
                           errors={field: exc.message})

    load_session(request).sign_in(user.id, user.password_hash)
    log.info("web.setup_done", team_id=team_id, user_id=user.id,
             claimed=team != "new")
    return redirect(request, "/products")


@router.get("/signin")
def signin_form(request: Request, session: SessionDep, next: str = ""):
    if accounts.count_users(session) == 0:
        return redirect(request, "/setup")
    return page(request, "pages/signin.html", title="Sign in", next=_safe_next(next),
                form={})


@router.post("/signin")
def signin(
    request: Request, session: SessionDep, email: Text = "", password: Text = "",
    next: OptionalText = "",
):
    """Sign in; every failure (unknown email, wrong password, locked) reads the same."""
    try:
        user = accounts.authenticate_user(session, email=email, password=password)
    except Unauthorized as exc:
        # Returning normally commits the failure count the lockout is built on.
        return page(request, "pages/signin.html", status=401, title="Sign in",
                    next=_safe_next(next), form={"email": email},
                    error=exc.message)

    load_session(request).sign_in(user.id, user.password_hash)
    log.info("web.signed_in", user_id=user.id, team_id=user.team_id)
    return redirect(request, _safe_next(next))


@router.post("/signout")
def signout(request: Request):
    load_session(request).sign_out()
    return redirect(request, "/signin")


@router.get("/invite/{token}")
def invitation_form(request: Request, session: SessionDep, token: str):
    invitation = accounts.find_invitation(session, token=token)
    team = session.get(Team, invitation.team_id)
    return page(request, "pages/invite.html", title="Join your team", token=token,
                invitation=invitation, team_name=team.name if team else "")


@router.post("/invite/{token}")
def accept_invitation(request: Request, session: SessionDep, token: str,
                      password: Text = "", confirm: OptionalText = ""):
    invitation = accounts.find_invitation(session, token=token)
    team = session.get(Team, invitation.team_id)
    error = None
    if password != confirm:
        error = "confirm: the two passwords differ"
    else:
        try:
            user = accounts.accept_invitation(session, token=token, password=password)
        except (BadRequest, Conflict, NotFound) as exc:
            session.rollback()
            error = exc.message
    if error:
        return page(request, "pages/invite.html", status=400, title="Join your team",
                    token=token, invitation=invitation,
                    team_name=team.name if team else "",
                    errors={field_of(error) or "password": error})

    load_session(request).sign_in(user.id, user.password_hash)
    return redirect(request, "/products")
