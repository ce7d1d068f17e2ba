"""Credits tests run on SQLite and, when reachable, on a fresh PostgreSQL database."""

from __future__ import annotations

import uuid

import pytest
from conftest import throwaway_postgres
from sqlalchemy import func, select

from lightbox.credits.models import CreditAccount, LedgerEntry, Reservation
from lightbox.db import Base, Database
from lightbox.migrate import import_all_models


@pytest.fixture(scope="module")
def postgres_database():
    """A throw-away database on the test server, dropped after the module."""
    import_all_models()
    with throwaway_postgres() as url:
        db = Database(url)
        Base.metadata.create_all(db.engine)
        yield db
        db.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)]
)
def database(request, tmp_path):
    if request.param == "postgresql":
        # Tests isolate themselves by team, so one database serves the module.
        yield request.getfixturevalue("postgres_database")
        return
    import_all_models()
    db = Database(f"sqlite:///{tmp_path / 'credits.sqlite'}")
    Base.metadata.create_all(db.engine)
    yield db
    db.dispose()


@pytest.fixture
def team_id(database) -> str:
    from lightbox.accounts.service import create_team

    with database.session() as session:
        return create_team(session, name=f"team-{uuid.uuid4().hex[:8]}").id


@pytest.fixture
def books():
    """Asserts that a team's counters equal what its ledger says."""
    return assert_books_balance


def assert_books_balance(database, team_id: str) -> None:
    """The counters equal what the ledger says, for the team and each reservation."""
    with database.session() as session:
        sums = dict(session.execute(
            select(LedgerEntry.kind, func.sum(LedgerEntry.amount))
            .where(LedgerEntry.team_id == team_id)
            .group_by(LedgerEntry.kind)
        ).all())
        get = lambda kind: sums.get(kind) or 0  # noqa: E731
        account = session.get(CreditAccount, team_id)
        assert account.balance == get("grant") - get("consume")
        assert account.reserved == get("reserve") - get("consume") - get("release")
        assert 0 <= account.reserved <= account.balance

        reservations = session.scalars(
            select(Reservation).where(Reservation.team_id == team_id)).all()
        for res in reservations:
            settled = dict(session.execute(
                select(LedgerEntry.kind, func.sum(LedgerEntry.amount))
                .where(LedgerEntry.reservation_id == res.id)
                .group_by(LedgerEntry.kind)
            ).all())
            assert settled.get("reserve") == res.amount
            assert (settled.get("consume") or 0) == res.consumed
            assert (settled.get("release") or 0) == res.released
            assert res.consumed + res.released <= res.amount
