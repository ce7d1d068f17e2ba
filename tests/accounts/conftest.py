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

    import uuid

    import psycopg
    from conftest import POSTGRES_URL, require_service

    admin = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    require_service("PostgreSQL",
                    lambda: psycopg.connect(admin, connect_timeout=3).close())
    name = f"lb_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    import_all_models()
    db = Database(f"{POSTGRES_URL.rpartition('/')[0]}/{name}")
    Base.metadata.create_all(db.engine)
    yield db
    db.dispose()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
