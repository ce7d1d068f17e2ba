"""What every CLI command needs: the instance's settings and a migrated database."""

from __future__ import annotations

import typer

from lightbox.config import Settings
from lightbox.db import Database


def get_settings(ctx: typer.Context) -> Settings:
    root = ctx.find_root()
    if root.obj is None:
        root.obj = {}
    if "settings" not in root.obj:
        data_dir = root.params.get("data_dir")
        root.obj["settings"] = Settings(data_dir=data_dir) if data_dir else Settings()
    return root.obj["settings"]


def open_database(ctx: typer.Context) -> Database:
    """The instance's database, upgraded to the current schema."""
    from lightbox.migrate import upgrade

    root = ctx.find_root()
    if "database" not in (root.obj or {}):
        settings = get_settings(ctx)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        database = Database(settings.resolved_database_url)
        upgrade(database)
        root.obj["database"] = database
        ctx.call_on_close(database.dispose)
    return root.obj["database"]


def fail(message: str) -> None:
    """Print a one-line error and exit 2, as every command does on bad input."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)
