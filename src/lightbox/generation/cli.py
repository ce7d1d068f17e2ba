"""``lightbox models ...`` and ``lightbox sceneries ...``: a team's own photos.

``add`` runs the same checks and service as ``POST /models`` / ``POST
/sceneries`` (free, created DONE and APPROVED); ``list`` prints what the list
endpoints return. Output is tab-separated: ``record_id<TAB>name`` for ``add``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lightbox.cli_support import fail, get_settings, open_database
from lightbox.db import isoformat
from lightbox.errors import LightboxError
from lightbox.generation import service
from lightbox.generation.serialize import raw_datetime
from lightbox.media.storage import open_storage
from lightbox.media.uploads import default_name, read_limited, validate_image

models_app = typer.Typer(help="Models (mannequins and model photos).",
                         no_args_is_help=True)
sceneries_app = typer.Typer(help="Sceneries (backgrounds).", no_args_is_help=True)

TeamOption = Annotated[str, typer.Option(help="Team id or name.")]
NameOption = Annotated[
    str | None, typer.Option(help="Display name (default: the file name).")
]
FileArgument = Annotated[Path, typer.Argument(help="JPEG, PNG or WebP photo.")]
ShownOption = Annotated[
    str, typer.Option("--status-filter", help="all, approved or rejected.")
]


def _add(ctx: typer.Context, kind: str, file: Path, team: str, name: str | None):
    from lightbox.accounts.service import find_team
    from lightbox.engine.base import get_engine

    settings = get_settings(ctx)
    database = open_database(ctx)
    storage = open_storage(settings)
    try:
        with open(file, "rb") as fh:
            data = read_limited(fh, field="file", max_bytes=settings.max_upload_bytes)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")

    fallback = "Model" if kind == "model" else "Scenery"
    try:
        upload = validate_image(data, field="file", filename=file.name,
                                max_pixels=settings.max_upload_pixels)
        with database.session() as session:
            team_id = find_team(session, team).id
            record_name = name or default_name(file.name, fallback=fallback)
            if kind == "model":
                record = service.upload_model(session, storage, team_id=team_id,
                                              upload=upload, name=record_name)
            else:
                engine = get_engine(settings.engine)
                record = service.upload_scenery(session, storage, engine,
                                                team_id=team_id, upload=upload,
                                                name=record_name)
            record_id = record.id
    except LightboxError as exc:
        fail(exc.message)
    typer.echo(f"{record_id}\t{record_name}")


def _list(ctx: typer.Context, kind: str, team: str, status_filter: str) -> None:
    from lightbox.accounts.service import find_team

    database = open_database(ctx)
    try:
        with database.session() as session:
            team_id = find_team(session, team).id
            page = service.list_records(
                session, team_id=team_id, kind=kind,
                status_filter=service.parse_status_filter(status_filter),
            )
            for row in page.rows:
                created = isoformat(raw_datetime(row.created_at))
                typer.echo(f"{row.id}\t{row.name}\t{row.status}\t"
                           f"{row.voting or '-'}\t{created}")
    except LightboxError as exc:
        fail(exc.message)


@models_app.command("add")
def add_model(ctx: typer.Context, file: FileArgument, team: TeamOption,
              name: NameOption = None) -> None:
    """Upload a model photo for a team; prints ``record_id<TAB>name``."""
    _add(ctx, "model", file, team, name)


@models_app.command("list")
def list_models(ctx: typer.Context, team: TeamOption,
                status_filter: ShownOption = "all") -> None:
    """A team's models: ``id<TAB>name<TAB>status<TAB>voting<TAB>createdAt``."""
    _list(ctx, "model", team, status_filter)


@sceneries_app.command("add")
def add_scenery(ctx: typer.Context, file: FileArgument, team: TeamOption,
                name: NameOption = None) -> None:
    """Upload a background photo for a team; prints ``record_id<TAB>name``."""
    _add(ctx, "scenery", file, team, name)


@sceneries_app.command("list")
def list_sceneries(ctx: typer.Context, team: TeamOption,
                   status_filter: ShownOption = "all") -> None:
    """A team's sceneries: ``id<TAB>name<TAB>status<TAB>voting<TAB>createdAt``."""
    _list(ctx, "scenery", team, status_filter)
