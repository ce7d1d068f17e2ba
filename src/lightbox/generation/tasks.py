"""The render task: claim a record with a lease, render it, commit it once.

The database, not the queue, decides what runs. A record is rendered only by a
worker holding its lease (``lease_token``); every write after the render is
conditional on still holding it, so a duplicate delivery, a worker that lost its
lease to the sweep, or a retry racing the sweep can never mark a record twice or
charge it twice (``credits.service.settle`` is idempotent per record as well).

Lease columns, as this module and ``generation.sweep`` use them:
- ``lease_token`` set: a worker holds the record until ``lease_until``; once that
  passes (the worker died or hung) anyone may claim it. While the render runs,
  the worker extends the lease (a heartbeat), so a render longer than
  ``lease_seconds`` is not mistaken for a dead one.
- ``lease_token`` NULL: nobody holds it, anyone may claim it. ``lease_until`` is
  then the deadline after which the sweep assumes the queued task was lost and
  enqueues another (NULL: never queued by us; the sweep uses ``created_at``).
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from lightbox import metrics
from lightbox.credits import service as credits
from lightbox.db import utcnow
from lightbox.engine.types import EngineError
from lightbox.generation import render
from lightbox.generation.models import DONE, FAILED, INPROGRESS, Order, Record

if TYPE_CHECKING:
    from lightbox.runtime import Runtime

log = structlog.get_logger(__name__)

# Seconds before the n-th retry (1-based); Huey's scheduler has 1 s granularity.
RETRY_DELAYS = (1, 2, 4, 8, 15, 30)
MAX_ERROR_LENGTH = 300
# A render still running after this many lease periods is taken for hung: its
# heartbeat stops, the lease runs out and the sweep hands the record on.
MAX_LEASE_PERIODS = 10


@dataclass(frozen=True)
class Claim:
    record_id: str
    token: str
    attempt: int


def retry_delay(attempt: int) -> int:
    return RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1]


def claim(runtime: Runtime, record_id: str, *, now: dt.datetime | None = None
          ) -> Claim | None:
    """Take the lease on an unfinished record, or None if it is not claimable.

    Not claimable: finished (DONE/FAILED), held by a live lease, out of attempts,
    or unknown. One conditional UPDATE, committed at once, so exactly one of two
    concurrent deliveries wins.
    """
    settings = runtime.settings
    now = now or utcnow()
    token = secrets.token_hex(16)

    with runtime.db.session() as session:
        matched = session.execute(
            update(Record)
            .where(
                Record.id == record_id,
                Record.status == INPROGRESS,
                Record.attempts < settings.max_attempts,
                or_(Record.lease_token.is_(None), Record.lease_until.is_(None),
                    Record.lease_until < now),
            )
            .values(
                lease_token=token,
                lease_until=now + dt.timedelta(seconds=settings.lease_seconds),
                attempts=Record.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if matched != 1:
            return None
        attempt = session.scalar(select(Record.attempts).where(Record.id == record_id))

    return Claim(record_id=record_id, token=token, attempt=attempt)


def _held(claim_: Claim):
    """The WHERE clause of every write made under a lease."""
    return (
        Record.id == claim_.record_id,
        Record.lease_token == claim_.token,
        Record.status == INPROGRESS,
    )


def _settle(session: Session, record_id: str, *, outcome: str) -> None:
    """Consume or release a record's share of its order's reservation."""
    row = session.execute(
        select(Record.price, Order.reservation_id)
        .join(Order, Order.id == Record.order_id)
        .where(Record.id == record_id)
    ).first()
    # Uploads have no order and nothing reserved.
    if row is None or row.reservation_id is None:
        return

    credits.settle(session, reservation_id=row.reservation_id, record_id=record_id,
                   amount=row.price, outcome=outcome)
    session.execute(
        update(Record).where(Record.id == record_id).values(settled=True)
        .execution_options(synchronize_session=False)
    )


def finish(runtime: Runtime, claim_: Claim, result: render.Rendered) -> bool:
    """Mark the record DONE and consume its credits, in one transaction.

    False (and nothing written) when the lease was lost meanwhile: whoever holds
    it now finishes the record.
    """
    with runtime.db.session() as session:
        matched = session.execute(
            update(Record)
            .where(*_held(claim_))
            .values(
                status=DONE,
                image_key=result.image_key,
                thumb_key=result.thumb_key,
                layers=result.layers,
                meta=result.meta,
                error=None,
                lease_token=None,
                lease_until=None,
                finished_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if matched != 1:
            return False
        _settle(session, claim_.record_id, outcome="consume")
    return True


def fail(session: Session, record_id: str, *, error: str, where=()) -> bool:
    """Mark an unfinished record FAILED and release its credits (one transaction).

    ``where`` adds conditions (the caller's lease); False when nothing matched.
    """
    matched = session.execute(
        update(Record)
        .where(Record.id == record_id, Record.status == INPROGRESS, *where)
        .values(status=FAILED, error=error[:MAX_ERROR_LENGTH], lease_token=None,
                lease_until=None, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if matched != 1:
        return False
    _settle(session, record_id, outcome="release")
    return True


def release_for_retry(runtime: Runtime, claim_: Claim, *, delay: float) -> bool:
    """Give the lease back so the delayed retry (or anyone) may claim the record.

    ``lease_until`` becomes the sweep's deadline: if the retry's enqueue is lost,
    the sweep re-enqueues once that passes.
    """
    deadline = utcnow() + dt.timedelta(seconds=delay + runtime.settings.lease_seconds)
    with runtime.db.session() as session:
        matched = session.execute(
            update(Record)
            .where(*_held(claim_))
            .values(lease_token=None, lease_until=deadline)
            .execution_options(synchronize_session=False)
        ).rowcount
    return matched == 1


def extend_lease(runtime: Runtime, claim_: Claim) -> bool:
    """Push the lease ``lease_seconds`` ahead; False once it is no longer ours."""
    until = utcnow() + dt.timedelta(seconds=runtime.settings.lease_seconds)
    with runtime.db.session() as session:
        matched = session.execute(
            update(Record)
            .where(*_held(claim_))
            .values(lease_until=until)
            .execution_options(synchronize_session=False)
        ).rowcount
    return matched == 1


@contextmanager
def _lease_kept(runtime: Runtime, claim_: Claim) -> Iterator[None]:
    """Extend the lease every third of it while the block runs (up to a cap)."""
    lease = runtime.settings.lease_seconds
    stop = threading.Event()

    def beat() -> None:
        deadline = time.monotonic() + MAX_LEASE_PERIODS * lease
        while not stop.wait(lease / 3) and time.monotonic() < deadline:
            try:
                if not extend_lease(runtime, claim_):
                    return  # the sweep took it: finish() will notice too
            except Exception:
                # A missed beat only shortens the lease; the next one may land.
                # (A new thread: the task's bound record_id is not inherited.)
                log.warning("render.heartbeat_failed", record_id=claim_.record_id,
                            exc_info=True)

    thread = threading.Thread(target=beat, name=f"lease-{claim_.record_id}",
                              daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _load(runtime: Runtime, record_id: str) -> Record:
    with runtime.db.session() as session:
        # expire_on_commit is off: the row stays readable after the session.
        return session.get_one(Record, record_id)


def _safe_error(exc: Exception, *, attempts: int) -> str:
    """What the API may show: our own messages, never internals of a crash."""
    if isinstance(exc, (render.RenderError, EngineError)):
        return str(exc)[:MAX_ERROR_LENGTH] or "Rendering failed."
    return f"Rendering failed after {attempts} attempt{'s' * (attempts != 1)}."


def _on_error(runtime: Runtime, claim_: Claim, record: Record, exc: Exception, *,
              started: float, request_id: str | None) -> None:
    settings = runtime.settings
    duration_ms = round((time.monotonic() - started) * 1000)
    # Same inputs, same seed, same engine: a missing input or an input the engine
    # refuses fails again on every attempt, so those fail at once.
    permanent = isinstance(exc, (render.RenderError, EngineError))

    if not permanent and claim_.attempt < settings.max_attempts:
        delay = retry_delay(claim_.attempt)
        if release_for_retry(runtime, claim_, delay=delay):
            log.warning("render.retry", kind=record.kind, attempt=claim_.attempt,
                        delay_s=delay, duration_ms=duration_ms,
                        error=type(exc).__name__, exc_info=exc)
            metrics.renders.labels(kind=record.kind, outcome="retry").inc()
            try:
                runtime.queue.enqueue(claim_.record_id, request_id=request_id,
                                      delay=delay)
            except Exception:
                # The lease deadline is set: the sweep re-enqueues after it.
                log.exception("render.retry_enqueue_failed")
        return

    message = _safe_error(exc, attempts=claim_.attempt)
    with runtime.db.session() as session:
        failed = fail(session, claim_.record_id, error=message,
                      where=(Record.lease_token == claim_.token,))
    if failed:
        log.warning("render.failed", kind=record.kind, attempt=claim_.attempt,
                    duration_ms=duration_ms, error=message,
                    exc_info=None if permanent else exc)
        metrics.renders.labels(kind=record.kind, outcome="failed").inc()


def render_record(runtime: Runtime, record_id: str, *,
                  request_id: str | None = None) -> None:
    """The queued task: render one record if it is still ours to render.

    Never raises for a render problem (the database records the outcome); an
    exception escaping here (the database is down) leaves the record to the sweep.
    """
    with structlog.contextvars.bound_contextvars(request_id=request_id,
                                                 record_id=record_id):
        claim_ = claim(runtime, record_id)
        if claim_ is None:
            log.info("render.skipped")
            return

        record = _load(runtime, record_id)
        log.info("render.started", kind=record.kind, attempt=claim_.attempt)
        started = time.monotonic()

        # Rendering holds no transaction: a long render must not hold SQLite's
        # write lock or a PostgreSQL connection in a transaction.
        try:
            with _lease_kept(runtime, claim_):
                result = render.render(runtime, record)
            done = finish(runtime, claim_, result)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded
            _on_error(runtime, claim_, record, exc, started=started,
                      request_id=request_id)
            return

        seconds = time.monotonic() - started
        if not done:
            log.warning("render.lease_lost", kind=record.kind, attempt=claim_.attempt)
            return
        metrics.renders.labels(kind=record.kind, outcome="done").inc()
        metrics.render_seconds.labels(kind=record.kind).observe(seconds)
        log.info("render.done", kind=record.kind, attempt=claim_.attempt,
                 duration_ms=round(seconds * 1000))
