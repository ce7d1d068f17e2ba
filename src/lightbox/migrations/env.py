"""Alembic environment: runs on the engine the caller hands over in ``attributes``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from lightbox.migrate import import_all_models

config = context.config
target_metadata = import_all_models().metadata


def run_migrations() -> None:
    engine = config.attributes.get("engine") or create_engine(
        config.get_main_option("sqlalchemy.url")
    )
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # SQLite cannot ALTER most things in place; batch mode copies the table.
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
