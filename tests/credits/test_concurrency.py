"""Races, for real: threads with their own sessions against one database.

SQLite serialises writers (BEGIN IMMEDIATE); PostgreSQL runs them concurrently
under READ COMMITTED, where only the conditional UPDATE and the unique index keep
the books right. Both must give the same exact numbers.
"""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import func, select

from lightbox.credits import service
from lightbox.credits.models import LedgerEntry, Reservation
from lightbox.errors import InsufficientCredits
from lightbox.ids import new_id


def race(count: int, work) -> list:
    """Run ``work(i)`` in ``count`` threads released together; results in order."""
    results: list = [None] * count
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # collected and asserted on by the caller
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_fifty_reservations_against_a_balance_of_ten_orders(
    database, team_id, books
):
    with database.session() as session:
        service.grant(session, team_id=team_id, amount=100)

    def reserve(i: int) -> str:
        with database.session() as session:
            return service.reserve(session, team_id=team_id, amount=10,
                                   order_id=f"ord_{i}").id

    results = race(50, reserve)

    won = [r for r in results if isinstance(r, str)]
    lost = [r for r in results if isinstance(r, InsufficientCredits)]
    assert (len(won), len(lost)) == (10, 40), Counter(map(type, results))
    assert all(exc.required == 10 and exc.available == 0 for exc in lost[-5:])
    with database.session() as session:
        totals = service.summary(session, team_id=team_id)
        reservations = session.scalar(select(func.count(Reservation.id)).where(
            Reservation.team_id == team_id))
    assert (totals.balance, totals.reserved, totals.available) == (100, 100, 0)
    assert reservations == 10
    books(database, team_id)


def test_racing_settles_of_one_record_charge_once(database, team_id, books):
    with database.session() as session:
        service.grant(session, team_id=team_id, amount=100)
        reservation_id = service.reserve(session, team_id=team_id, amount=30,
                                         order_id="ord_r").id
    record_id = new_id("img")

    def settle(i: int) -> bool:
        # Duplicate deliveries disagree on the outcome too: still one wins.
        with database.session() as session:
            return service.settle(session, reservation_id=reservation_id,
                                  record_id=record_id, amount=10,
                                  outcome="consume" if i % 2 else "release")

    results = race(20, settle)

    assert sorted(map(repr, results)) == ["False"] * 19 + ["True"]
    with database.session() as session:
        totals = service.summary(session, team_id=team_id)
        settles = session.scalars(select(LedgerEntry.kind).where(
            LedgerEntry.record_id == record_id)).all()
    assert len(settles) == 1
    charged = 10 if settles[0] == "consume" else 0
    assert (totals.balance, totals.reserved) == (100 - charged, 20)
    books(database, team_id)


def test_orders_and_settlements_interleaved(database, team_id, books):
    """Reserving and settling at once: every order settles to exactly its amount."""
    with database.session() as session:
        service.grant(session, team_id=team_id, amount=300)

    def order(i: int) -> tuple[str, int]:
        with database.session() as session:
            res = service.reserve(session, team_id=team_id, amount=30,
                                  order_id=f"ord_{i}")
        consumed = 0
        for n in range(3):
            outcome = "consume" if (i + n) % 3 else "release"
            with database.session() as session:
                service.settle(session, reservation_id=res.id,
                               record_id=new_id("ps"), amount=10, outcome=outcome)
            consumed += 10 if outcome == "consume" else 0
        return res.id, consumed

    results = race(16, order)

    done = [r for r in results if isinstance(r, tuple)]
    # Ten orders always fit; released credits may let a few late ones in too.
    assert len(done) >= 10
    assert all(isinstance(r, InsufficientCredits) for r in results if r not in done)
    with database.session() as session:
        totals = service.summary(session, team_id=team_id)
        for reservation_id, consumed in done:
            res = service.get_reservation(session, reservation_id=reservation_id)
            assert (res.consumed, res.released) == (consumed, 30 - consumed)
    spent = sum(consumed for _, consumed in done)
    assert (totals.balance, totals.reserved) == (300 - spent, 0)
    books(database, team_id)
