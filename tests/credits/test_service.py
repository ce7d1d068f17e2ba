"""Credits service: grants, all-or-nothing reservations, idempotent settlement."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from lightbox.credits import service
from lightbox.credits.models import CreditAccount, LedgerEntry, Reservation
from lightbox.errors import BadRequest, Conflict, InsufficientCredits, NotFound
from lightbox.ids import new_id


class TestGrantAndReserve:
    def test_grant_then_reserve(self, database, team_id, books):
        with database.session() as session:
            service.grant(session, team_id=team_id, amount=100, note="welcome")
            res = service.reserve(session, team_id=team_id, amount=30,
                                  order_id="ord_1")
            assert (res.amount, res.consumed, res.released) == (30, 0, 0)
            totals = service.summary(session, team_id=team_id)

        assert (totals.balance, totals.reserved, totals.available) == (100, 30, 70)
        books(database, team_id)

    def test_insufficient_credits_reserves_nothing(self, database, team_id):
        with database.session() as session:
            service.grant(session, team_id=team_id, amount=100)
            service.reserve(session, team_id=team_id, amount=60, order_id="ord_1")

        with database.session() as session:
            with pytest.raises(InsufficientCredits) as caught:
                service.reserve(session, team_id=team_id, amount=120,
                                order_id="ord_2")
        assert caught.value.status_code == 402
        assert caught.value.message == (
            "Insufficient credits. Required: 120, available: 40.")

        with database.session() as session:
            totals = service.summary(session, team_id=team_id)
            count = session.scalar(select(func.count(Reservation.id)).where(
                Reservation.team_id == team_id))
        assert (totals.reserved, totals.available, count) == (60, 40, 1)

    def test_exactly_the_available_amount_can_be_reserved(self, database, team_id):
        with database.session() as session:
            service.grant(session, team_id=team_id, amount=50)
            service.reserve(session, team_id=team_id, amount=50, order_id=None)
            assert service.summary(session, team_id=team_id).available == 0
            with pytest.raises(InsufficientCredits, match="Required: 1, available: 0"):
                service.reserve(session, team_id=team_id, amount=1, order_id=None)

    @pytest.mark.parametrize("amount", [0, -5, 2.5, True, "10"])
    def test_grant_amount_must_be_a_positive_int(self, database, team_id, amount):
        with database.session() as session:
            with pytest.raises(BadRequest, match="amount: must be"):
                service.grant(session, team_id=team_id, amount=amount)

    def test_unknown_team(self, database):
        with database.session() as session:
            with pytest.raises(NotFound, match="Team not found: team_nope"):
                service.grant(session, team_id="team_nope", amount=5)
        with database.session() as session:
            with pytest.raises(InsufficientCredits, match="available: 0"):
                service.reserve(session, team_id="team_nope", amount=5, order_id=None)


@pytest.fixture
def rec():
    """Unique record ids per test: on PostgreSQL one database serves the module,
    and record ids are unique across teams there as in production."""
    ids: dict[str, str] = {}
    return lambda name: ids.setdefault(name, new_id(name.split("_")[0]))


class TestSettle:
    @pytest.fixture
    def reservation_id(self, database, team_id) -> str:
        with database.session() as session:
            service.grant(session, team_id=team_id, amount=100)
            return service.reserve(session, team_id=team_id, amount=30,
                                   order_id="ord_s").id

    def settle(self, database, reservation_id, record_id, amount, outcome) -> bool:
        with database.session() as session:
            return service.settle(session, reservation_id=reservation_id,
                                  record_id=record_id, amount=amount, outcome=outcome)

    def test_consume_and_release(self, database, team_id, reservation_id, rec,
                                 books):
        assert self.settle(database, reservation_id, rec("img_1"), 10, "consume")
        assert self.settle(database, reservation_id, rec("img_2"), 10, "release")
        assert self.settle(database, reservation_id, rec("img_3"), 10, "consume")

        with database.session() as session:
            totals = service.summary(session, team_id=team_id)
            res = service.get_reservation(session, reservation_id=reservation_id)
        # Consumed credits leave the balance; released ones return to available.
        assert (totals.balance, totals.reserved, totals.available) == (80, 0, 80)
        assert (res.consumed, res.released, res.outstanding) == (20, 10, 0)
        books(database, team_id)

    def test_second_settle_of_a_record_changes_nothing(
        self, database, team_id, reservation_id, rec
    ):
        record = rec("img_1")
        assert self.settle(database, reservation_id, record, 10, "consume")
        assert not self.settle(database, reservation_id, record, 10, "consume")
        assert not self.settle(database, reservation_id, record, 10, "release")

        with database.session() as session:
            totals = service.summary(session, team_id=team_id)
            settles = session.scalar(select(func.count(LedgerEntry.id)).where(
                LedgerEntry.record_id == rec("img_1")))
        assert (totals.balance, totals.reserved, settles) == (90, 20, 1)

    def test_cannot_settle_more_than_reserved(self, database, team_id,
                                              reservation_id, rec, books):
        assert self.settle(database, reservation_id, rec("img_1"), 20, "consume")
        with pytest.raises(Conflict, match="exceeds what remains"):
            self.settle(database, reservation_id, rec("img_2"), 20, "consume")

        with database.session() as session:
            totals = service.summary(session, team_id=team_id)
        # The failed settle rolled back whole: no entry, no counter change.
        assert (totals.balance, totals.reserved) == (80, 10)
        books(database, team_id)

    def test_bad_outcome_and_unknown_reservation(self, database, reservation_id,
                                                 rec):
        with pytest.raises(BadRequest, match="outcome: must be"):
            self.settle(database, reservation_id, rec("img_1"), 10, "refund")
        with pytest.raises(NotFound, match="Reservation not found: res_nope"):
            self.settle(database, "res_nope", rec("img_1"), 10, "consume")

    def test_database_refuses_a_second_settle_entry(self, database, team_id,
                                                    reservation_id, rec):
        assert self.settle(database, reservation_id, rec("img_1"), 10, "consume")
        # Bypassing the service: the partial unique index still refuses.
        with pytest.raises(IntegrityError):
            with database.session() as session:
                session.execute(insert(LedgerEntry).values(
                    id=new_id("led"), team_id=team_id, kind="release", amount=10,
                    reservation_id=reservation_id, record_id=rec("img_1"), note="",
                    created_at=service.utcnow(),
                ))
        # ... while non-settle entries may share a NULL record id freely.
        with database.session() as session:
            service.grant(session, team_id=team_id, amount=1)
            service.grant(session, team_id=team_id, amount=1)

    def test_database_refuses_reserving_beyond_the_balance(self, database, team_id,
                                                           reservation_id):
        with pytest.raises(IntegrityError):
            with database.session() as session:
                session.execute(update(CreditAccount)
                                .where(CreditAccount.team_id == team_id)
                                .values(reserved=CreditAccount.balance + 1))


class TestLedger:
    def test_newest_first_with_all_fields(self, database, team_id, rec):
        with database.session() as session:
            service.grant(session, team_id=team_id, amount=100, note="welcome")
            res = service.reserve(session, team_id=team_id, amount=20,
                                  order_id="ord_l")
            service.settle(session, reservation_id=res.id, record_id=rec("ps_1"),
                           amount=10, outcome="consume")
            service.settle(session, reservation_id=res.id, record_id=rec("ps_2"),
                           amount=10, outcome="release")
            entries = service.ledger(session, team_id=team_id)
            limited = service.ledger(session, team_id=team_id, limit=2)

        assert [(e.kind, e.amount) for e in entries] == [
            ("release", 10), ("consume", 10), ("reserve", 20), ("grant", 100)]
        assert [e.id for e in limited] == [e.id for e in entries[:2]]
        release, consume, reserve, grant = entries
        assert grant.note == "welcome" and grant.reservation_id is None
        assert reserve.reservation_id == res.id and reserve.order_id == "ord_l"
        assert (consume.record_id, consume.order_id) == (rec("ps_1"), "ord_l")
        assert release.record_id == rec("ps_2")
        assert all(e.id.startswith("led_") for e in entries)

    def test_other_teams_entries_are_not_listed(self, database, team_id):
        from lightbox.accounts.service import create_team

        with database.session() as session:
            other = create_team(session, name=f"other-{team_id}").id
            service.grant(session, team_id=other, amount=7)
            assert service.ledger(session, team_id=team_id) == []
            assert service.summary(session, team_id=team_id).balance == 0


class TestMetrics:
    def sample(self, kind: str) -> float:
        from prometheus_client import REGISTRY

        return REGISTRY.get_sample_value("lightbox_credits_total",
                                         {"kind": kind}) or 0.0

    def test_counted_on_commit_only(self, database, team_id):
        before = self.sample("grant")

        with pytest.raises(RuntimeError):
            with database.session() as session:
                service.grant(session, team_id=team_id, amount=7)
                raise RuntimeError("the request failed after the grant")
        assert self.sample("grant") == before

        with database.session() as session:
            service.grant(session, team_id=team_id, amount=7)
            assert self.sample("grant") == before  # not committed yet
        assert self.sample("grant") == before + 7
