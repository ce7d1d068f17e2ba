"""Fixtures for the accounts tests: a migrated-by-metadata SQLite database."""

from __future__ import annotations

import pytest

from lightbox.db import Base, Database
from lightbox.migrate import import_all_models

SECRET = "accounts-test-secret-" + "s" * 24


@pytest.fixture
def database(tmp_path):
    import_all_models()
    db = Database(f"sqlite:///{tmp_path / 'accounts.sqlite'}")
    Base.metadata.create_all(db.engine)
    yield db
    db.dispose()


@pytest.fixture
def team_id(database) -> str:
    from lightbox.accounts.service import create_team

    with database.session() as session:
        return create_team(session, name="Acme").id


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)]
)
def any_database(request, tmp_path):
    """A fresh database on SQLite, and on PostgreSQL when it is reachable."""
    if request.param == "sqlite":
        yield request.getfixturevalue("database")
        return

    from conftest import throwaway_postgres

    import_all_models()
    with throwaway_postgres() as url:
        db = Database(url)
        Base.metadata.create_all(db.engine)
        yield db
        db.dispose()
