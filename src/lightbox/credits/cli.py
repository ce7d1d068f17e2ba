"""``lightbox credits ...``: grant credits and read a team's balance and ledger."""

from __future__ import annotations

from typing import Annotated

import typer

from lightbox.accounts.service import find_team
from lightbox.cli_support import fail, open_database
from lightbox.credits import service
from lightbox.db import isoformat
from lightbox.errors import LightboxError

credits_app = typer.Typer(help="Credits.", no_args_is_help=True)


@credits_app.command("grant")
def grant(
    ctx: typer.Context,
    team: Annotated[str, typer.Argument(help="Team id or name.")],
    amount: Annotated[int, typer.Argument(min=1, help="Credits to add.")],
    note: Annotated[str, typer.Option(help="Why (kept in the ledger).")] = "",
) -> None:
    """Add credits; prints ``team_id<TAB>balance<TAB>reserved<TAB>available``."""
    database = open_database(ctx)
    try:
        with database.session() as session:
            found = find_team(session, team)
            service.grant(session, team_id=found.id, amount=amount,
                          note=note or "granted (CLI)")
            totals = service.summary(session, team_id=found.id)
            team_id = found.id
    except LightboxError as exc:
        fail(exc.message)
    typer.echo(f"{team_id}\t{totals.balance}\t{totals.reserved}\t{totals.available}")


@credits_app.command("show")
def show(
    ctx: typer.Context,
    team: Annotated[str, typer.Argument(help="Team id or name.")],
    limit: Annotated[int, typer.Option(min=0, help="Ledger entries to list.")] = 20,
) -> None:
    """Balance line, then the newest ledger entries, tab-separated."""
    database = open_database(ctx)
    try:
        with database.session() as session:
            found = find_team(session, team)
            totals = service.summary(session, team_id=found.id)
            lines = [f"{found.id}\t{totals.balance}\t{totals.reserved}\t"
                     f"{totals.available}"]
            for entry in service.ledger(session, team_id=found.id, limit=limit):
                lines.append(
                    f"{entry.id}\t{isoformat(entry.created_at)}\t{entry.kind}\t"
                    f"{entry.amount}\t{entry.order_id or '-'}\t"
                    f"{entry.record_id or '-'}\t{entry.note}"
                )
    except LightboxError as exc:
        fail(exc.message)
    for line in lines:
        typer.echo(line)
