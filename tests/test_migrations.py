"""The shipped migrations build exactly the schema the models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import throwaway_postgres
from sqlalchemy import inspect

from lightbox.db import Database
from lightbox.migrate import current_revision, import_all_models, upgrade


def _assert_in_sync(db: Database) -> None:
    metadata = import_all_models().metadata
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_sqlite_upgrade_matches_models(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'lb.sqlite'}")
    upgrade(db)

    assert current_revision(db) is not None
    assert {"teams", "records", "ledger_entries"} <= set(inspect(db.engine)
                                                         .get_table_names())
    _assert_in_sync(db)
    upgrade(db)  # a second upgrade is a no-op, as at every server start
    db.dispose()


@pytest.fixture
def postgres_database():
    with throwaway_postgres("lb_mig") as url:
        db = Database(url)
        yield db
        db.dispose()


@pytest.mark.services
def test_postgres_upgrade_matches_models(postgres_database):
    upgrade(postgres_database)

    _assert_in_sync(postgres_database)
