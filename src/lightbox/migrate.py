"""Alembic, driven from code: ``lightbox db upgrade`` and start-up use ``upgrade``.

The migration scripts ship inside the package (``lightbox/migrations``) so an
installed Lightbox can upgrade its database without the source tree.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config

from lightbox.db import Base, Database

MIGRATIONS = Path(__file__).parent / "migrations"
DOMAINS = ("accounts", "credits", "catalog", "generation")


def import_all_models() -> type[Base]:
    """Import every domain's tables so ``Base.metadata`` knows them all."""
    for domain in DOMAINS:
        importlib.import_module(f"lightbox.{domain}.models")
    return Base


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    config.attributes["engine"] = db.engine
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    command.upgrade(alembic_config(db), revision)


def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
