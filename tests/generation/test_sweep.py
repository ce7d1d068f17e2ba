"""Leases and the sweep's decisions, record by record, at chosen points in time.

No consumers run here: the runtime's queue is replaced by a recorder, so each
test sees exactly what a sweep enqueued, and ``now`` is passed explicitly instead
of waiting for leases to expire.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from factories import image_bytes
from sqlalchemy import update

from lightbox.accounts import service as accounts
from lightbox.catalog import service as catalog
from lightbox.credits import service as credits
from lightbox.generation import service as generation
from lightbox.generation import tasks
from lightbox.generation.models import DONE, FAILED, INPROGRESS, Order, Record
from lightbox.generation.schemas import PackshotRequest
from lightbox.generation.sweep import grace_seconds, sweep
from lightbox.media.uploads import validate_image
from lightbox.migrate import upgrade
from lightbox.runtime import build_runtime


class RecordingQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str | None]] = []

    def enqueue(self, record_id, *, request_id=None, delay=0):
        self.sent.append((record_id, request_id))

    def stop(self, **kwargs):
        pass


class Desk:
    def __init__(self, settings) -> None:
        self.rt = build_runtime(settings)
        self.rt.queue.stop()
        self.queue = self.rt.queue = RecordingQueue()
        upgrade(self.rt.db)
        with self.rt.db.session() as session:
            self.team_id = accounts.create_team(session, name="Desk").id
            credits.grant(session, team_id=self.team_id, amount=1000)
            upload = validate_image(image_bytes("PNG", size=(200, 200), alpha=True),
                                    field="file", max_pixels=10**7)
            self.product_id = catalog.add_product(
                session, self.rt.storage, team_id=self.team_id, upload=upload,
                name="Bottle",
            ).id

    def packshots(self, count: int) -> list[str]:
        """Registered records whose enqueue was lost (nothing reached the queue)."""
        body = PackshotRequest.model_validate(
            {"config": {"product": {"id": self.product_id}}, "count": count}
        )
        with self.rt.db.session() as session:
            registration = generation.register(
                session, team_id=self.team_id, kind="packshot", body=body,
                price_each=10, queue=RecordingQueue(), request_id="req-order",
            )
            return [record.id for record in registration.records]

    def record(self, record_id: str) -> Record:
        with self.rt.db.session() as session:
            return session.get_one(Record, record_id)

    def set(self, record_id: str, **values) -> None:
        with self.rt.db.session() as session:
            session.execute(
                update(Record).where(Record.id == record_id).values(**values)
            )


@pytest.fixture
def desk(settings):
    desk = Desk(settings)
    yield desk
    desk.rt.db.dispose()


def at(record: Record, seconds: float) -> dt.datetime:
    return record.created_at + dt.timedelta(seconds=seconds)


def test_a_never_claimed_record_waits_out_the_grace_then_is_requeued_once(desk):
    (record_id,) = desk.packshots(1)
    record = desk.record(record_id)
    grace = grace_seconds(desk.rt)
    lease = desk.rt.settings.lease_seconds

    assert sweep(desk.rt, now=at(record, grace - 0.5)).empty
    report = sweep(desk.rt, now=at(record, grace + 0.5))

    assert report.requeued == [record_id]
    # The order's request id travels with the re-enqueued task.
    assert desk.queue.sent == [(record_id, "req-order")]
    swept = desk.record(record_id)
    assert swept.lease_until == at(record, grace + 0.5 + lease)
    assert (swept.attempts, swept.lease_token, swept.status) == (0, None, INPROGRESS)

    # The new task owns it until that deadline: no pile of duplicates meanwhile.
    assert sweep(desk.rt, now=at(record, grace + lease)).empty
    assert sweep(desk.rt, now=at(record, grace + lease + 1)).requeued == [record_id]
    assert len(desk.queue.sent) == 2


def test_an_expired_lease_is_revoked_and_requeued(desk):
    (record_id,) = desk.packshots(1)
    claim = tasks.claim(desk.rt, record_id)
    held_until = desk.record(record_id).lease_until

    assert sweep(desk.rt, now=held_until - dt.timedelta(seconds=1)).empty
    report = sweep(desk.rt, now=held_until + dt.timedelta(seconds=1))

    assert report.requeued == [record_id]
    record = desk.record(record_id)
    assert record.lease_token is None and record.attempts == 1
    # The next delivery may claim it at once; the old worker may not finish it.
    assert tasks.claim(desk.rt, record_id).attempt == 2
    assert tasks.release_for_retry(desk.rt, claim, delay=0) is False


def test_a_record_waiting_for_its_retry_is_left_alone(desk):
    (record_id,) = desk.packshots(1)
    claim = tasks.claim(desk.rt, record_id)
    assert tasks.release_for_retry(desk.rt, claim, delay=4)
    deadline = desk.record(record_id).lease_until

    assert sweep(desk.rt, now=deadline - dt.timedelta(seconds=1)).empty
    # The retry's enqueue was lost after all: recovered once the deadline passes.
    assert sweep(desk.rt, now=deadline + dt.timedelta(seconds=1)).requeued == [
        record_id
    ]


def test_finished_records_are_never_touched(desk):
    done, failed = desk.packshots(2)
    desk.set(done, status=DONE)
    desk.set(failed, status=FAILED)

    far = at(desk.record(done), 10**6)

    assert sweep(desk.rt, now=far).empty
    assert desk.queue.sent == []


def test_out_of_attempts_fails_and_releases_and_a_broken_record_blocks_nothing(
    desk,
):
    broken, exhausted, stuck = desk.packshots(3)
    for record_id in (broken, exhausted):
        desk.set(record_id, attempts=3, lease_token="dead",
                 lease_until=desk.record(record_id).created_at)
    # A record whose reservation cannot be found cannot be settled.
    with desk.rt.db.session() as session:
        session.add(Order(id="ord_broken", team_id=desk.team_id, kind="packshot",
                          batch_id="batch_broken", reservation_id="res_missing",
                          count=1, price_each=10, credits_reserved=10))
    desk.set(broken, order_id="ord_broken")

    report = sweep(desk.rt, now=at(desk.record(stuck), 3600))

    assert report.failed == [exhausted] and report.requeued == [stuck]
    record = desk.record(exhausted)
    assert (record.status, record.settled) == (FAILED, True)
    assert record.error == "Rendering did not finish after 3 attempts."
    assert desk.record(broken).status == INPROGRESS
    with desk.rt.db.session() as session:
        summary = credits.summary(session, team_id=desk.team_id)
    # 30 reserved; the exhausted record's 10 released; the other two still held.
    assert (summary.balance, summary.reserved) == (1000, 20)


def test_of_many_concurrent_deliveries_exactly_one_claims(desk):
    (record_id,) = desk.packshots(1)
    barrier = threading.Barrier(8)
    claims = []

    def deliver():
        barrier.wait()
        claims.append(tasks.claim(desk.rt, record_id))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    won = [claim for claim in claims if claim is not None]
    assert len(claims) == 8 and len(won) == 1
    record = desk.record(record_id)
    assert (record.attempts, record.lease_token) == (1, won[0].token)
