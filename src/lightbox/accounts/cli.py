"""``lightbox teams ...`` and ``lightbox keys ...``: administer teams and API keys.

Output is tab-separated for scripts; a created key is printed alone on the last
line, so ``lightbox keys create --team acme | tail -n1`` captures it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Optional

import typer

from lightbox.accounts import service
from lightbox.cli_support import fail, get_settings, open_database
from lightbox.db import isoformat
from lightbox.errors import LightboxError

teams_app = typer.Typer(help="Teams (they own content and credits).",
                        no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)


@teams_app.command("create")
def create_team(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Unique team name.")],
    credits: Annotated[int, typer.Option(min=0, help="Credits to grant.")] = 0,
) -> None:
    """Create a team (optionally with credits); prints ``team_id<TAB>name``."""
    from lightbox.credits import service as credits_service

    database = open_database(ctx)
    try:
        with database.session() as session:
            team = service.create_team(session, name=name)
            if credits:
                credits_service.grant(session, team_id=team.id, amount=credits,
                                      note="granted at team creation (CLI)")
            team_id, team_name = team.id, team.name
    except LightboxError as exc:
        fail(exc.message)
    typer.echo(f"{team_id}\t{team_name}")


@teams_app.command("list")
def list_teams(ctx: typer.Context) -> None:
    """Every team: ``team_id<TAB>name<TAB>available credits``."""
    from lightbox.credits import service as credits_service

    database = open_database(ctx)
    with database.session() as session:
        for team in service.list_teams(session):
            totals = credits_service.summary(session, team_id=team.id)
            typer.echo(f"{team.id}\t{team.name}\t{totals.available}")


def _parse_expiry(value: str) -> dt.datetime:
    """A date (end of that day, UTC) or an ISO datetime (UTC if no offset given)."""
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC)
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        fail(f"--expires: not a date or ISO datetime: {value!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@keys_app.command("create")
def create_key(
    ctx: typer.Context,
    team: Annotated[str, typer.Option(help="Team id or name.")],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
    expires: Annotated[
        Optional[str],
        typer.Option(help="Expiry: YYYY-MM-DD (end of day, UTC) or ISO datetime."),
    ] = None,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Only the content.read scope.")
    ] = False,
) -> None:
    """Create an API key; the full key is printed once, alone on the last line."""
    expires_at = _parse_expiry(expires) if expires else None
    if expires_at is not None and expires_at <= dt.datetime.now(dt.UTC):
        fail(f"--expires: {expires} is in the past")
    scopes = ("content.read",) if read_only else service.DEFAULT_SCOPES

    settings = get_settings(ctx)
    database = open_database(ctx)
    try:
        with database.session() as session:
            found = service.find_team(session, team)
            key, raw = service.create_api_key(
                session, team_id=found.id, name=name, scopes=scopes,
                expires_at=expires_at, secret_key=settings.secret_key,
            )
            summary = (f"{key.id}\t{found.id}\t{key.scopes}\t"
                       f"expires={isoformat(key.expires_at) or 'never'}")
    except LightboxError as exc:
        fail(exc.message)
    typer.echo(summary)
    typer.echo("Store this key now; it cannot be shown again:", err=True)
    typer.echo(raw)


@keys_app.command("revoke")
def revoke_key(
    ctx: typer.Context,
    key_id: Annotated[
        str, typer.Argument(help="The keyId (between mk_live_ and '.').")
    ],
) -> None:
    """Revoke a key at once; prints ``keyId<TAB>revoked<TAB>time``."""
    database = open_database(ctx)
    try:
        with database.session() as session:
            key = service.revoke_api_key(session, key_id=key_id)
            line = f"{key.id}\trevoked\t{isoformat(key.revoked_at)}"
    except LightboxError as exc:
        fail(exc.message)
    typer.echo(line)


@keys_app.command("list")
def list_keys(
    ctx: typer.Context,
    team: Annotated[str, typer.Option(help="Team id or name.")],
) -> None:
    """The team's keys: ``keyId<TAB>name<TAB>state<TAB>scopes<TAB>last used``."""
    database = open_database(ctx)
    try:
        with database.session() as session:
            found = service.find_team(session, team)
            now = dt.datetime.now(dt.UTC)
            lines = []
            for key in service.list_api_keys(session, team_id=found.id):
                state = ("revoked" if key.revoked_at else
                         "active" if key.is_active(now) else "expired")
                lines.append(f"{key.id}\t{key.name}\t{state}\t{key.scopes}\t"
                             f"{isoformat(key.last_used_at) or '-'}")
    except LightboxError as exc:
        fail(exc.message)
    for line in lines:
        typer.echo(line)
