"""Settings: API keys and members (owners only), and credits (everyone).

A new API key or invitation link is shown once, in the response to the POST that
made it (never behind a redirect, never stored in clear), with ``no-store``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request

from lightbox.accounts import service as accounts
from lightbox.credits import service as credits
from lightbox.db import utcnow
from lightbox.deps import RuntimeDep, SessionDep
from lightbox.errors import BadRequest, Conflict
from lightbox.web.auth import OwnerDep, ViewerDep
from lightbox.web.render import field_of, page, redirect

router = APIRouter()

Text = Annotated[str, Form()]
LEDGER_ROWS = 100


# API keys ----------------------------------------------------------------------


def _keys_page(request, session, viewer, *, status=200, new_key=None, form=None,
               errors=None):
    keys = accounts.list_api_keys(session, team_id=viewer.team_id)
    return page(request, "pages/keys.html", status=status, title="API keys",
                keys=keys, now=utcnow(), new_key=new_key, form=form or {},
                errors=errors or {})


@router.get("/settings/keys")
def keys_page(request: Request, session: SessionDep, viewer: OwnerDep):
    return _keys_page(request, session, viewer)


def _parse_expiry(value: str) -> dt.datetime | None:
    """An ISO date (the key works through that day, UTC) or nothing."""
    if not value.strip():
        return None
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(f"expires: not a date (YYYY-MM-DD): {value!r}") from None
    expires = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
    if expires <= utcnow():
        raise BadRequest("expires: must be today or later")
    return expires


@router.post("/settings/keys")
def create_key(request: Request, session: SessionDep, runtime: RuntimeDep,
               viewer: OwnerDep, name: Text = "", expires: Text = ""):
    try:
        key, raw = accounts.create_api_key(
            session, team_id=viewer.team_id, name=name,
            expires_at=_parse_expiry(expires),
            secret_key=runtime.settings.secret_key,
        )
    except BadRequest as exc:
        session.rollback()
        return _keys_page(request, session, viewer, status=400,
                          form={"name": name, "expires": expires},
                          errors={field_of(exc.message) or "name": exc.message})
    return _keys_page(request, session, viewer, new_key={"id": key.id, "raw": raw})


@router.post("/settings/keys/{key_id}/revoke")
def revoke_key(request: Request, session: SessionDep, viewer: OwnerDep,
               key_id: str):
    accounts.revoke_api_key(session, key_id=key_id, team_id=viewer.team_id)
    return redirect(request, "/settings/keys")


# Members -----------------------------------------------------------------------


def _members_page(request, session, viewer, *, status=200, invite_link=None,
                  form=None, errors=None):
    return page(request, "pages/members.html", status=status, title="Members",
                users=accounts.list_users(session, team_id=viewer.team_id),
                invitations=accounts.list_invitations(session,
                                                      team_id=viewer.team_id),
                invite_link=invite_link, form=form or {"role": "member"},
                errors=errors or {})


@router.get("/settings/members")
def members_page(request: Request, session: SessionDep, viewer: OwnerDep):
    return _members_page(request, session, viewer)


@router.post("/settings/members/invite")
def invite(request: Request, session: SessionDep, runtime: RuntimeDep,
           viewer: OwnerDep, email: Text = "", role: Text = "member"):
    try:
        invitation, token = accounts.create_invitation(
            session, team_id=viewer.team_id, email=email, role=role
        )
    except (BadRequest, Conflict) as exc:
        session.rollback()
        return _members_page(request, session, viewer, status=exc.status_code,
                             form={"email": email, "role": role},
                             errors={field_of(exc.message) or "email": exc.message})
    link = f"{runtime.settings.base_url.rstrip('/')}/invite/{token}"
    return _members_page(request, session, viewer,
                         invite_link={"email": invitation.email, "url": link})


@router.post("/settings/members/{user_id}/remove")
def remove_member(request: Request, session: SessionDep, viewer: OwnerDep,
                  user_id: str):
    try:
        accounts.remove_user(session, team_id=viewer.team_id, user_id=user_id)
    except Conflict as exc:
        session.rollback()
        return _members_page(request, session, viewer, status=409,
                             errors={"members": exc.message})
    if user_id == viewer.user_id:
        return redirect(request, "/signin")
    return redirect(request, "/settings/members")


@router.post("/settings/invitations/{invitation_id}/revoke")
def revoke_invitation(request: Request, session: SessionDep, viewer: OwnerDep,
                      invitation_id: str):
    accounts.revoke_invitation(session, team_id=viewer.team_id,
                               invitation_id=invitation_id)
    return redirect(request, "/settings/members")


# Credits -----------------------------------------------------------------------


@router.get("/settings/credits")
def credits_page(request: Request, session: SessionDep, viewer: ViewerDep):
    return page(request, "pages/credits.html", title="Credits",
                summary=credits.summary(session, team_id=viewer.team_id),
                ledger=credits.ledger(session, team_id=viewer.team_id,
                                      limit=LEDGER_ROWS))
