"""Render tasks end to end: real Huey queue, real consumer threads, real engine.

Orders are registered through ``generation.service.register`` on a runtime whose
engine is the real one wrapped in a counter, so each test can say how many
renders happened, and make chosen renders fail or stall. Every image a test
checks is decoded from storage.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import (
    REDIS_URL,
    require_service,
    test_settings,
    throwaway_postgres,
    wait_for,
)
from factories import image_bytes
from huey import RedisHuey
from PIL import Image
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from lightbox.accounts import service as accounts
from lightbox.catalog import service as catalog
from lightbox.credits import service as credits
from lightbox.credits.models import LedgerEntry
from lightbox.db import utcnow
from lightbox.generation import service as generation
from lightbox.generation import sweep as sweeping
from lightbox.generation import tasks
from lightbox.generation.models import DONE, FAILED, INPROGRESS, Record
from lightbox.generation.queue import RenderQueue
from lightbox.generation.schemas import ShootRequest
from lightbox.media.uploads import validate_image
from lightbox.migrate import upgrade
from lightbox.runtime import Runtime, build_runtime


class CountingEngine:
    """The real engine behind a counter; ``fail`` and ``stall`` pick calls to
    sabotage by method name and a predicate on the arguments."""

    name = "counting"

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.fail: dict[str, object] = {}  # method -> predicate(n, args) -> bool
        self.stall: dict[str, float] = {}  # method -> seconds

    def _call(self, method: str, *args, **kwargs):
        with self.lock:
            self.calls[method] += 1
            n = self.calls[method]
        should_fail = self.fail.get(method)
        if should_fail is not None and should_fail(n, args):
            raise RuntimeError(f"injected failure in {method} (call {n})")
        time.sleep(self.stall.get(method, 0))
        return getattr(self.inner, method)(*args, **kwargs)

    def cutout(self, image):
        return self._call("cutout", image)

    def packshot(self, cutout, **kwargs):
        return self._call("packshot", cutout, **kwargs)

    def scenery(self, preferences, **kwargs):
        return self._call("scenery", preferences, **kwargs)

    def scenery_from_photo(self, rgb):
        return self._call("scenery_from_photo", rgb)

    def mannequin(self, preferences, **kwargs):
        return self._call("mannequin", preferences, **kwargs)

    def figure_from_photo(self, image):
        return self._call("figure_from_photo", image)

    def shoot(self, spec):
        return self._call("shoot", spec)


class DroppedEnqueues:
    """A queue whose messages are lost (Redis down, crash right after commit)."""

    def enqueue(self, record_id, *, request_id=None):
        pass


@dataclass
class Studio:
    """One instance on a tmp data dir, one team with credits and a product."""

    rt: Runtime
    engine: CountingEngine
    team_id: str
    product_id: str

    def order(self, kind: str, body, *, enqueue: bool = True) -> list[str]:
        with self.rt.db.session() as session:
            registration = generation.register(
                session, team_id=self.team_id, kind=kind, body=body,
                price_each=getattr(self.rt.settings.prices, kind),
                queue=self.rt.queue if enqueue else DroppedEnqueues(),
                request_id="req-test",
            )
            return [record.id for record in registration.records]

    def shoot(self, count: int, *, seed: int | None = None, enqueue=True) -> list[str]:
        config = {"product": {"id": self.product_id}}
        if seed is not None:
            config["seed"] = seed
        body = ShootRequest.model_validate({"config": config, "count": count})
        return self.order("image", body, enqueue=enqueue)

    def records(self, ids: list[str]) -> list[Record]:
        with self.rt.db.session() as session:
            rows = session.scalars(select(Record).where(Record.id.in_(ids))).all()
            return sorted(rows, key=lambda r: ids.index(r.id))

    def statuses(self, ids: list[str]) -> list[str]:
        return [record.status for record in self.records(ids)]

    def all_done(self, ids: list[str]) -> bool:
        return all(s != INPROGRESS for s in self.statuses(ids))

    def credits(self):
        with self.rt.db.session() as session:
            return credits.summary(session, team_id=self.team_id)

    def ledger_sum(self, kind: str) -> int:
        """Sum of the team's ledger entries of one kind (reserve, consume, ...)."""
        with self.rt.db.session() as session:
            return session.scalar(
                select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                    LedgerEntry.team_id == self.team_id, LedgerEntry.kind == kind
                )
            )


def open_studio(settings, *, team_id=None, product_id=None) -> Studio:
    rt = build_runtime(settings)
    engine = CountingEngine(rt.engine)
    rt.engine = engine  # the queue's tasks read runtime.engine at call time
    upgrade(rt.db)  # the real migrations, as a server start runs them
    if team_id is None:
        with rt.db.session() as session:
            team_id = accounts.create_team(session, name="Studio").id
            credits.grant(session, team_id=team_id, amount=1000)
            # A PNG with real alpha is its own cutout: no network run needed.
            upload = validate_image(
                image_bytes("PNG", size=(400, 400), alpha=True), field="file",
                max_pixels=settings.max_upload_pixels,
            )
            product_id = catalog.add_product(
                session, rt.storage, team_id=team_id, upload=upload, name="Bottle"
            ).id
    return Studio(rt=rt, engine=engine, team_id=team_id, product_id=product_id)


@pytest.fixture
def studio(settings):
    studio = open_studio(settings)
    yield studio
    studio.rt.close()


def decode(studio: Studio, key: str) -> Image.Image:
    image = Image.open(io.BytesIO(studio.rt.storage.get(key)))
    image.load()
    return image


def renders(kind: str, outcome: str) -> float:
    return REGISTRY.get_sample_value(
        "lightbox_renders_total", {"kind": kind, "outcome": outcome}
    ) or 0.0


class TestRender:
    def test_records_go_from_inprogress_to_done_with_images_and_credits(
        self, studio
    ):
        done_before = renders("image", "done")
        ids = studio.shoot(2, seed=7)
        assert studio.statuses(ids) == [INPROGRESS, INPROGRESS]
        assert studio.credits().reserved == 60

        studio.rt.queue.start_consumers(2)
        wait_for(lambda: studio.all_done(ids), timeout=30)

        for record in studio.records(ids):
            assert record.status == DONE
            assert record.attempts == 1 and record.settled and record.error is None
            assert record.lease_token is None and record.finished_at is not None
            prefix = f"teams/{studio.team_id}/records/{record.id}"
            assert record.image_key == f"{prefix}/image.jpg"
            image = decode(studio, record.image_key)
            assert image.format == "JPEG" and max(image.size) == 1536
            pixels = np.asarray(image)
            assert pixels.std() > 10  # a picture, not a flat fill
            thumb = decode(studio, record.thumb_key)
            assert max(thumb.size) == 640
            foreground = decode(studio, record.layers["foreground"])
            alpha = np.asarray(foreground)[..., 3]
            assert foreground.mode == "RGBA" and alpha.min() == 0 and alpha.max() == 255
            assert decode(studio, record.layers["background"]).size == image.size
            assert record.meta["shot"]["seed"] in (7, 8)

        assert studio.engine.calls["shoot"] == 2
        assert studio.credits() == credits.CreditSummary(
            balance=940, reserved=0, available=940
        )
        assert studio.ledger_sum("consume") == 60 and studio.ledger_sum("release") == 0
        assert renders("image", "done") - done_before == 2

    def test_duplicate_deliveries_render_and_charge_nothing_twice(self, studio):
        ids = studio.shoot(2)
        for record_id in ids:  # delivered twice more while still queued
            studio.rt.queue.enqueue(record_id)
            studio.rt.queue.enqueue(record_id)
        studio.rt.queue.start_consumers(2)
        wait_for(lambda: studio.all_done(ids), timeout=30)
        wait_for(lambda: studio.rt.queue.depth() == 0, timeout=10)

        # Late duplicates of finished records, through the queue and directly.
        for record_id in ids:
            studio.rt.queue.enqueue(record_id)
            tasks.render_record(studio.rt, record_id)
        wait_for(lambda: studio.rt.queue.depth() == 0, timeout=10)
        time.sleep(0.3)

        assert studio.engine.calls["shoot"] == 2
        assert [r.attempts for r in studio.records(ids)] == [1, 1]
        assert studio.credits().balance == 940
        assert studio.ledger_sum("consume") == 60

    def test_same_seed_same_bytes(self, studio):
        first = studio.shoot(1, seed=42)
        second = studio.shoot(1, seed=42)
        for record_id in first + second:
            tasks.render_record(studio.rt, record_id)

        a, b = studio.records(first + second)
        assert studio.rt.storage.get(a.image_key) == studio.rt.storage.get(b.image_key)

    def test_request_id_and_record_id_follow_the_work_into_the_logs(
        self, studio, monkeypatch
    ):
        import structlog
        from structlog.testing import capture_logs

        # Another test's app may have configured structlog (level WARNING, cached
        # loggers): start from the defaults, a fresh logger, and restore after.
        saved = structlog.get_config()
        structlog.reset_defaults()
        monkeypatch.setattr(tasks, "log", structlog.get_logger(tasks.__name__))
        (record_id,) = studio.shoot(1)

        try:
            with capture_logs(
                processors=[structlog.contextvars.merge_contextvars]
            ) as logs:
                tasks.render_record(studio.rt, record_id, request_id="req-abc")
                tasks.render_record(studio.rt, record_id, request_id="req-dup")
        finally:
            structlog.configure(**saved)

        events = {entry["event"]: entry for entry in logs
                  if entry["event"].startswith("render.")}
        assert events["render.started"]["request_id"] == "req-abc"
        assert events["render.done"]["record_id"] == record_id
        assert events["render.done"]["duration_ms"] >= 0
        assert events["render.skipped"]["request_id"] == "req-dup"
        # Nothing stays bound to the worker thread afterwards.
        assert "record_id" not in structlog.contextvars.get_contextvars()


class TestFailures:
    def test_a_failing_render_retries_then_fails_and_releases_its_credits(
        self, studio, monkeypatch
    ):
        monkeypatch.setattr(tasks, "RETRY_DELAYS", (0,))  # retry at once
        studio.engine.fail["shoot"] = lambda n, args: True
        ids = studio.shoot(2)
        studio.rt.queue.start_consumers(2)

        wait_for(lambda: studio.all_done(ids), timeout=30)

        for record in studio.records(ids):
            assert record.status == FAILED
            assert record.attempts == studio.rt.settings.max_attempts == 3
            assert record.error == "Rendering failed after 3 attempts."
            assert record.image_key is None and record.settled
        assert studio.engine.calls["shoot"] == 6
        assert studio.credits() == credits.CreditSummary(
            balance=1000, reserved=0, available=1000
        )
        assert studio.ledger_sum("consume") == 0 and studio.ledger_sum("release") == 60

    def test_a_render_that_fails_twice_then_works_is_charged_once(
        self, studio, monkeypatch
    ):
        # Real (short) retry delays, through Huey's schedule.
        monkeypatch.setattr(tasks, "RETRY_DELAYS", (1, 1))
        studio.engine.fail["shoot"] = lambda n, args: n <= 2
        (record_id,) = studio.shoot(1)
        studio.rt.queue.start_consumers(1)

        wait_for(lambda: studio.all_done([record_id]), timeout=30)

        (record,) = studio.records([record_id])
        assert (record.status, record.attempts, record.error) == (DONE, 3, None)
        assert studio.credits().balance == 970
        assert studio.ledger_sum("consume") == 30 and studio.ledger_sum("release") == 0

    def test_consumed_plus_released_equals_reserved(self, studio, monkeypatch):
        monkeypatch.setattr(tasks, "RETRY_DELAYS", (0,))
        # Variant 1 (seed 101) always fails; the other two render.
        studio.engine.fail["shoot"] = lambda n, args: args[0].seed == 101
        ids = studio.shoot(3, seed=100)
        studio.rt.queue.start_consumers(2)

        wait_for(lambda: studio.all_done(ids), timeout=30)

        assert studio.statuses(ids) == [DONE, FAILED, DONE]
        consumed, released = studio.ledger_sum("consume"), studio.ledger_sum("release")
        assert (consumed, released) == (60, 30)
        assert consumed + released == studio.ledger_sum("reserve") == 90
        assert studio.credits() == credits.CreditSummary(
            balance=940, reserved=0, available=940
        )


class TestRecovery:
    def test_a_worker_killed_mid_render_is_recovered_by_the_sweep(self, studio):
        (record_id,) = studio.shoot(1, enqueue=False)
        # The dead worker: it claimed the record and never came back.
        dead = tasks.claim(studio.rt, record_id)
        assert dead is not None and dead.attempt == 1

        # Its lease is live: neither a delivery nor a sweep may touch it.
        tasks.render_record(studio.rt, record_id)
        assert sweeping.sweep(studio.rt).empty
        assert studio.engine.calls["shoot"] == 0

        later = utcnow() + dt.timedelta(seconds=studio.rt.settings.lease_seconds + 1)
        report = sweeping.sweep(studio.rt, now=later)
        assert report.requeued == [record_id]
        studio.rt.queue.start_consumers(1)
        wait_for(lambda: studio.all_done([record_id]), timeout=30)

        (record,) = studio.records([record_id])
        assert (record.status, record.attempts) == (DONE, 2)
        assert studio.engine.calls["shoot"] == 1
        # The dead worker waking up cannot commit over the new attempt.
        assert tasks.finish(studio.rt, dead, tasks.render.Rendered("x", "y")) is False
        assert studio.ledger_sum("consume") == 30 and studio.credits().balance == 970

    @pytest.mark.slow
    def test_a_render_longer_than_its_lease_keeps_it_by_heartbeat(self, tmp_path):
        studio = open_studio(test_settings(tmp_path / "data", lease_seconds=5))
        try:
            studio.engine.stall["shoot"] = 7  # > lease_seconds
            (record_id,) = studio.shoot(1)
            # The sweeper runs every second meanwhile, eager to take it over.
            studio.rt.queue.start_consumers(1)
            wait_for(lambda: studio.all_done([record_id]), timeout=30)

            (record,) = studio.records([record_id])
            assert (record.status, record.attempts) == (DONE, 1)
            assert studio.engine.calls["shoot"] == 1
        finally:
            studio.rt.close()

    def test_a_lost_enqueue_is_picked_up_by_the_sweeper(self, studio):
        ids = studio.shoot(2, enqueue=False)
        assert studio.rt.queue.depth() == 0

        studio.rt.queue.start_consumers(1)

        # Grace is two sweep periods (2 s in tests), then the sweeper enqueues.
        wait_for(lambda: studio.all_done(ids), timeout=30)
        assert studio.statuses(ids) == [DONE, DONE]
        assert studio.engine.calls["shoot"] == 2

    def test_out_of_attempts_after_crashes_is_failed_with_credits_released(
        self, studio
    ):
        (record_id,) = studio.shoot(1, enqueue=False)
        now = utcnow()
        for attempt in range(3):  # three workers died holding it
            at = now + dt.timedelta(seconds=attempt * 100)
            assert tasks.claim(studio.rt, record_id, now=at).attempt == attempt + 1

        report = sweeping.sweep(studio.rt, now=now + dt.timedelta(seconds=1000))

        assert report.failed == [record_id] and report.requeued == []
        (record,) = studio.records([record_id])
        assert record.status == FAILED
        assert record.error == "Rendering did not finish after 3 attempts."
        assert studio.ledger_sum("release") == 30
        assert studio.credits().reserved == 0


def test_restart_mid_order_finishes_the_order(tmp_path):
    settings = test_settings(tmp_path / "data", lease_seconds=5, workers=1)
    first = open_studio(settings)
    first.engine.stall["shoot"] = 0.4
    ids = first.shoot(5)
    first.rt.queue.start_consumers(1)
    wait_for(lambda: DONE in first.statuses(ids), timeout=30)
    # A record the old process claimed and then died with (its lease is live).
    # The last one: the single worker takes them in order.
    claimed = [r.id for r in first.records(ids) if r.attempts == 0][-1]
    four_seconds_ago = utcnow() - dt.timedelta(seconds=4)
    assert tasks.claim(first.rt, claimed, now=four_seconds_ago) is not None
    first.rt.close()
    assert INPROGRESS in first.statuses(ids)

    second = open_studio(settings, team_id=first.team_id, product_id=first.product_id)
    try:
        second.rt.queue.start_consumers(2)
        wait_for(lambda: second.all_done(ids), timeout=30)

        assert second.statuses(ids) == [DONE] * 5
        assert second.ledger_sum("consume") == 150
        assert second.credits() == credits.CreditSummary(
            balance=850, reserved=0, available=850
        )
    finally:
        second.rt.close()


KILLED_WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from lightbox.config import Settings
    from lightbox.generation.tasks import render_record
    from lightbox.runtime import build_runtime

    settings = Settings(data_dir=Path(sys.argv[1]), env="test", lease_seconds=5)
    rt = build_runtime(settings)

    class Stalling:
        name = "stalling"
        def shoot(self, spec):
            print("rendering", flush=True)
            time.sleep(60)

    rt.engine = Stalling()
    render_record(rt, sys.argv[2], request_id="req-killed")
    """
)


def test_a_sigkilled_worker_process_is_finished_by_the_sweep(settings, studio):
    (record_id,) = studio.shoot(1, enqueue=False)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WORKER, str(settings.data_dir), record_id],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "LIGHTBOX_LOG_LEVEL": "WARNING"},
    )
    try:
        # Unconfigured structlog prints to stdout too: wait for our line.
        for line in proc.stdout:
            if line.strip() == "rendering":
                break
        else:
            pytest.fail(f"the worker never started rendering: {proc.stderr.read()}")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()

    (record,) = studio.records([record_id])
    assert (record.status, record.attempts) == (INPROGRESS, 1)
    assert record.lease_token is not None

    later = record.lease_until + dt.timedelta(seconds=1)
    assert sweeping.sweep(studio.rt, now=later).requeued == [record_id]
    studio.rt.queue.start_consumers(1)
    wait_for(lambda: studio.all_done([record_id]), timeout=30)

    (record,) = studio.records([record_id])
    assert (record.status, record.attempts) == (DONE, 2)
    assert studio.ledger_sum("consume") == 30 and studio.credits().balance == 970


@pytest.fixture
def postgres_settings(tmp_path):
    """Settings on a fresh PostgreSQL database, dropped afterwards."""
    with throwaway_postgres("lb_worker") as url:
        yield test_settings(tmp_path / "data", database_url=url)


@pytest.mark.services
@pytest.mark.slow
def test_scaled_out_on_postgresql_and_redis(postgres_settings, monkeypatch):
    import redis

    require_service("Redis", lambda: redis.Redis.from_url(
        REDIS_URL, socket_connect_timeout=1).ping())
    monkeypatch.setattr(tasks, "RETRY_DELAYS", (0,))
    studio = open_studio(postgres_settings)
    studio.rt.queue.stop()
    # A queue name of its own keeps parallel runs on a shared Redis apart.
    huey = RedisHuey(f"lightbox-test-{uuid.uuid4().hex}", url=REDIS_URL,
                     results=False)
    studio.rt.queue = RenderQueue(huey, settings=studio.rt.settings,
                                  runtime=studio.rt)
    try:
        studio.engine.fail["shoot"] = lambda n, args: args[0].seed == 201
        ids = studio.shoot(3, seed=200)
        for record_id in ids:
            studio.rt.queue.enqueue(record_id)  # duplicate deliveries
        (dead,) = studio.shoot(1, seed=300, enqueue=False)
        claim = tasks.claim(studio.rt, dead)
        studio.rt.queue.start_consumers(2)
        wait_for(lambda: studio.all_done(ids), timeout=30)

        assert studio.statuses(ids) == [DONE, FAILED, DONE]
        assert studio.statuses([dead]) == [INPROGRESS]
        later = utcnow() + dt.timedelta(seconds=studio.rt.settings.lease_seconds + 1)
        assert sweeping.sweep(studio.rt, now=later).requeued == [dead]
        wait_for(lambda: studio.all_done([dead]), timeout=30)

        assert studio.statuses([dead]) == [DONE]
        assert tasks.finish(studio.rt, claim, tasks.render.Rendered("x", "y")) is False
        assert studio.engine.calls["shoot"] == 2 + 3 + 1
        assert (studio.ledger_sum("consume"), studio.ledger_sum("release")) == (90, 30)
        assert studio.credits() == credits.CreditSummary(
            balance=910, reserved=0, available=910
        )
    finally:
        studio.rt.close()
        huey.flush()


@pytest.mark.slow
def test_lightbox_worker_processes_render_what_the_server_registered(
    settings, studio
):
    ids = studio.shoot(3)  # queued in the data dir; this process runs no consumer
    env = {**os.environ, "LIGHTBOX_ENV": "test", "LIGHTBOX_LOG_LEVEL": "WARNING",
           "LIGHTBOX_SWEEP_SECONDS": "1"}
    command = [sys.executable, "-c", "from lightbox.cli import app; app()",
               "--data-dir", str(settings.data_dir), "worker", "--concurrency", "2"]
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        def finished() -> bool:
            for proc in procs:
                if proc.poll() is not None:
                    pytest.fail(f"lightbox worker exited: {proc.stderr.read()}")
            return studio.all_done(ids)

        wait_for(finished, timeout=60)
        for proc in procs:
            proc.send_signal(signal.SIGINT)  # graceful: finish, then exit
        errors = [proc.communicate(timeout=20)[1] for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()

    assert [proc.returncode for proc in procs] == [0, 0], errors
    assert studio.statuses(ids) == [DONE] * 3
    for record in studio.records(ids):
        assert decode(studio, record.image_key).size[0] > 0
        assert record.attempts == 1  # two processes, yet each rendered once
    assert studio.ledger_sum("consume") == 90
