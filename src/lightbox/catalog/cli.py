"""``lightbox products ...``: upload and list a team's products from the shell.

The same checks as ``POST /products`` (size, format, pixel cap); output is
tab-separated, ``product_id<TAB>name``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lightbox.catalog import service
from lightbox.cli_support import fail, get_settings, open_database
from lightbox.db import isoformat
from lightbox.errors import LightboxError
from lightbox.media.storage import open_storage
from lightbox.media.uploads import default_name, read_limited, validate_image

products_app = typer.Typer(help="Products (uploaded product photos).",
                           no_args_is_help=True)


@products_app.command("add")
def add_product(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="JPEG, PNG or WebP photo.")],
    team: Annotated[str, typer.Option(help="Team id or name.")],
    name: Annotated[
        str | None, typer.Option(help="Display name (default: the file name).")
    ] = None,
) -> None:
    """Upload a product photo for a team; prints ``product_id<TAB>name``."""
    from lightbox.accounts.service import find_team

    settings = get_settings(ctx)
    database = open_database(ctx)
    storage = open_storage(settings)
    try:
        with open(file, "rb") as fh:
            data = read_limited(fh, field="file", max_bytes=settings.max_upload_bytes)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")

    try:
        upload = validate_image(data, field="file", filename=file.name,
                                max_pixels=settings.max_upload_pixels)
        with database.session() as session:
            team_id = find_team(session, team).id
            product = service.add_product(
                session, storage, team_id=team_id, upload=upload,
                name=name or default_name(file.name, fallback="Product"),
            )
            product_id, product_name = product.id, product.name
    except LightboxError as exc:
        fail(exc.message)
    typer.echo(f"{product_id}\t{product_name}")


@products_app.command("list")
def list_products(
    ctx: typer.Context,
    team: Annotated[str, typer.Option(help="Team id or name.")],
) -> None:
    """A team's products, newest first: ``id<TAB>name<TAB>WxH<TAB>createdAt``."""
    from lightbox.accounts.service import find_team

    database = open_database(ctx)
    try:
        with database.session() as session:
            team_id = find_team(session, team).id
            products, _ = service.list_products(session, team_id=team_id)
            for product in products:
                typer.echo(f"{product.id}\t{product.name}\t"
                           f"{product.width}x{product.height}\t"
                           f"{isoformat(product.created_at)}")
    except LightboxError as exc:
        fail(exc.message)
