"""The sweep: find unfinished records nobody is working on, and get them done.

Two ways a record gets stuck, both recovered here:
- a worker died or hung mid-render: its lease expired (``lease_until < now``);
- the enqueue after the registering commit was lost (a crash, Redis down): never
  claimed, ``lease_until`` NULL, older than a grace period.

Each is re-enqueued, or marked FAILED with its credits released when it has no
attempts left. Every change is a conditional UPDATE repeating the condition it
was selected by, so a worker claiming the record meanwhile wins and the sweep
leaves it alone. Several processes may sweep at once: the worst case is a
duplicate task, which the claim turns into a no-op.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from lightbox.db import utcnow
from lightbox.generation.models import INPROGRESS, Order, Record
from lightbox.generation.tasks import fail

if TYPE_CHECKING:
    from lightbox.runtime import Runtime

log = structlog.get_logger(__name__)

BATCH = 500  # records handled per sweep; the next sweep takes the rest


@dataclass
class SweepReport:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.requeued or self.failed)


def grace_seconds(runtime: Runtime) -> float:
    """How long a fresh record may wait for its first claim before it counts lost.

    Two sweep periods: an enqueue that merely happened after this sweep started
    is never duplicated.
    """
    return 2 * runtime.settings.sweep_seconds


def _stuck(now: dt.datetime, cutoff: dt.datetime):
    return and_(
        Record.status == INPROGRESS,
        or_(
            Record.lease_until < now,
            and_(Record.lease_until.is_(None), Record.created_at < cutoff),
        ),
    )


def _recover(session: Session, row, still_stuck, *, max_attempts: int,
             deadline: dt.datetime) -> str | None:
    """Fail a stuck record out of attempts, else hand it to a new task."""
    if row.attempts >= max_attempts:
        message = (f"Rendering did not finish after {row.attempts} "
                   f"attempt{'s' * (row.attempts != 1)}.")
        return "failed" if fail(session, row.id, error=message,
                                where=still_stuck) else None

    # Revoke a dead worker's token: if it wakes up, it can no longer commit over
    # the new attempt.
    matched = session.execute(
        update(Record)
        .where(*still_stuck)
        .values(lease_token=None, lease_until=deadline)
        .execution_options(synchronize_session=False)
    ).rowcount
    return "requeued" if matched == 1 else None


def sweep(runtime: Runtime, *, now: dt.datetime | None = None) -> SweepReport:
    """Re-enqueue (or fail) the records stuck as of ``now``; enqueues after commit."""
    settings = runtime.settings
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=grace_seconds(runtime))
    # Until then the task enqueued below owns the record; after that, if it was
    # lost too, the next sweep tries again.
    deadline = now + dt.timedelta(seconds=settings.lease_seconds)
    report = SweepReport()
    request_ids: dict[str, str | None] = {}

    with runtime.db.session() as session:
        rows = session.execute(
            select(Record.id, Record.attempts, Order.request_id)
            .outerjoin(Order, Order.id == Record.order_id)
            .where(_stuck(now, cutoff))
            .order_by(Record.created_at)
            .limit(BATCH)
        ).all()

        for row in rows:
            still_stuck = (Record.id == row.id, _stuck(now, cutoff))
            try:
                # One savepoint per record: a record that cannot be settled
                # (a broken reservation) must not hold up the others.
                with session.begin_nested():
                    outcome = _recover(session, row, still_stuck,
                                       max_attempts=settings.max_attempts,
                                       deadline=deadline)
            except Exception:
                log.exception("sweep.record_error", record_id=row.id)
                continue
            if outcome == "failed":
                report.failed.append(row.id)
            elif outcome == "requeued":
                report.requeued.append(row.id)
                request_ids[row.id] = row.request_id

    for record_id in report.requeued:
        try:
            runtime.queue.enqueue(record_id, request_id=request_ids[record_id])
        except Exception:
            # The deadline is set: the next sweep after it tries again.
            log.exception("sweep.enqueue_failed", record_id=record_id)
            continue
        log.info("sweep.requeued", record_id=record_id)
    for record_id in report.failed:
        log.warning("sweep.failed", record_id=record_id)
    return report
