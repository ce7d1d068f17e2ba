"""The render queue: Huey carrying record ids to the tasks that render them.

The queue only carries ids; the database decides what runs (tasks claim records
with a lease, see ``generation.tasks``). So a lost message is recovered by the
sweep, and a duplicate one renders nothing twice. Huey's own retries are not used:
a failed render is retried by ``tasks`` re-enqueueing it, bounded by the
``attempts`` column.

Each ``RenderQueue`` owns its Huey instance and registers its task on it under an
explicit name, as a closure over its runtime: two runtimes in one process (tests,
two instances) never see each other's tasks, and any process that opens a queue on
the same storage can run tasks another one enqueued.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from huey import RedisHuey, SqliteHuey
from huey.api import Huey
from huey.consumer import Consumer

from lightbox import metrics
from lightbox.config import Settings

if TYPE_CHECKING:
    from lightbox.runtime import Runtime

log = structlog.get_logger(__name__)

TASK_NAME = "render_record"
QUEUE_NAME = "lightbox"
# Idle workers poll SQLite at most this often; a new task waits no longer.
MAX_POLL_SECONDS = 0.5
STOP_TIMEOUT_SECONDS = 5.0

RenderFn = Callable[..., Any]
SweepFn = Callable[..., Any]


def make_huey(queue_url: str) -> Huey:
    """Huey on Redis for ``redis://`` (and ``rediss://``) URLs, else on SQLite."""
    if queue_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(QUEUE_NAME, url=queue_url, results=False)

    if not queue_url.startswith("sqlite:///"):
        raise ValueError(
            f"queue_url: expected sqlite:///<path> or redis://..., got {queue_url!r}"
        )
    filename = Path(queue_url.removeprefix("sqlite:///"))
    filename.parent.mkdir(parents=True, exist_ok=True)
    # Huey keeps one connection behind a lock; the timeout makes a second process
    # wait for SQLite's write lock instead of failing.
    return SqliteHuey(
        QUEUE_NAME, filename=str(filename), results=False, timeout=30
    )


class _InProcessConsumer(Consumer):
    """A consumer living inside another server: the host process owns signals."""

    def _set_signal_handlers(self) -> None:
        pass


class RenderQueue:
    """Enqueues renders and runs the consumers and the sweeper that drain them.

    ``render`` and ``sweep`` default to ``generation.tasks.render_record`` and
    ``generation.sweep.sweep``; tests may pass their own.
    """

    def __init__(
        self,
        huey: Huey,
        *,
        settings: Settings,
        runtime: Runtime,
        render: RenderFn | None = None,
        sweep: SweepFn | None = None,
    ) -> None:
        self.huey = huey
        self.settings = settings
        self.runtime = runtime
        self._render = render
        self._sweep = sweep
        self._consumer: Consumer | None = None
        self._sweeper: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

        def render_record(record_id: str, request_id: str | None = None) -> None:
            render = self._render
            # Imported on first use: a process that only enqueues (or a test of
            # delivery) never loads the rendering stack.
            if render is None:
                from lightbox.generation.tasks import render_record as render
            render(self.runtime, record_id, request_id=request_id)

        self._task = huey.task(name=TASK_NAME)(render_record)

    def enqueue(
        self, record_id: str, *, request_id: str | None = None, delay: float = 0
    ) -> None:
        """Queue one render of ``record_id`` (after ``delay`` seconds)."""
        kwargs = {"request_id": request_id}
        if delay > 0:
            self._task.schedule(args=(record_id,), kwargs=kwargs, delay=delay)
        else:
            self._task(record_id, **kwargs)
        log.debug("queue.enqueued", record_id=record_id, delay=delay)

    def depth(self) -> int:
        """Tasks waiting: ready in the queue plus scheduled for later (retries)."""
        return self.huey.pending_count() + self.huey.scheduled_count()

    def sweep_now(self) -> Any:
        sweep = self._sweep
        if sweep is None:
            from lightbox.generation.sweep import sweep
        return sweep(self.runtime)

    def start_consumers(self, workers: int) -> None:
        """Start ``workers`` consumer threads and the sweeper in this process.

        For ``lightbox serve``: signals stay with the host server, and ``stop()``
        ends the threads. With ``workers=0`` only the sweeper runs (renders are
        left to ``lightbox worker`` processes).
        """
        with self._lock:
            if self._consumer is not None or self._sweeper is not None:
                raise RuntimeError("consumers already started on this queue")
            self._stop.clear()
            if workers > 0:
                self._consumer = self._make_consumer(_InProcessConsumer, workers)
                self._consumer.start()
            self._start_sweeper()
        log.info("queue.consumers_started", workers=workers)

    def run_worker(self, concurrency: int) -> None:
        """Run consumers and the sweeper in the foreground until SIGINT/SIGTERM.

        For ``lightbox worker``: Huey's consumer installs its signal handlers, so
        this must be called from the main thread. SIGINT finishes running renders
        first; anything interrupted is recovered by a sweep when its lease expires.
        """
        if concurrency < 1:
            raise ValueError(f"concurrency: must be at least 1, got {concurrency}")

        consumer = self._make_consumer(Consumer, concurrency)
        with self._lock:
            self._stop.clear()
            self._consumer = consumer
            self._start_sweeper()
        log.info("queue.worker_started", concurrency=concurrency)
        try:
            consumer.run()
        finally:
            self._stop_sweeper()
            with self._lock:
                self._consumer = None
            log.info("queue.worker_stopped")

    def stop(self, *, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop consumers and sweeper, waiting up to ``timeout`` for running renders.

        A render still running after the timeout keeps its thread (threads cannot
        be killed); if it never commits, its lease expires and a sweep recovers it.
        """
        with self._lock:
            consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.shutdown_timeout = timeout
            consumer.stop(graceful=True)
        self._stop_sweeper(timeout=timeout)
        self.huey.storage.close()

    def _make_consumer(self, cls: type[Consumer], workers: int) -> Consumer:
        return cls(
            self.huey,
            workers=workers,
            worker_type="thread",
            periodic=False,
            initial_delay=0.05,
            backoff=1.5,
            max_delay=MAX_POLL_SECONDS,
            # The scheduler moves delayed retries into the queue once a second.
            scheduler_interval=1,
            shutdown_timeout=STOP_TIMEOUT_SECONDS,
        )

    def _start_sweeper(self) -> None:
        self._sweeper = threading.Thread(
            target=self._sweep_loop, name="lightbox-sweeper", daemon=True
        )
        self._sweeper.start()

    def _stop_sweeper(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        self._stop.set()
        with self._lock:
            sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None and sweeper is not threading.current_thread():
            sweeper.join(timeout)

    def _sweep_loop(self) -> None:
        # Sweep at once, so a restarted server finishes the orders it left behind,
        # then every sweep_seconds.
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.sweep_now()
                metrics.queue_depth.set(self.depth())
            except Exception:
                # A database or queue outage must not end the sweeper for good.
                log.exception("sweep.error")
            elapsed = time.monotonic() - started
            self._stop.wait(max(self.settings.sweep_seconds - elapsed, 0.1))


def open_queue(
    settings: Settings,
    runtime: Runtime,
    *,
    render: RenderFn | None = None,
    sweep: SweepFn | None = None,
) -> RenderQueue:
    """The render queue for ``settings.resolved_queue_url``, bound to ``runtime``."""
    return RenderQueue(
        make_huey(settings.resolved_queue_url),
        settings=settings,
        runtime=runtime,
        render=render,
        sweep=sweep,
    )
