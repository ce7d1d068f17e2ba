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

With ``settings.heavy_queue`` there are two queues: video and reel records (ids
``vid_...``) go to ``<queue_name>-heavy``, everything else to ``<queue_name>``.
Routing by id prefix means every enqueue (registration, retry, sweep) routes the
same way without knowing the record's kind. ``lightbox worker --queue heavy``
drains only the heavy one, so videos get machines of their own.
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
DEFAULT, HEAVY = "default", "heavy"
# Video and reel records (generation.models.RECORD_PREFIX): long, memory-hungry.
HEAVY_ID_PREFIXES = ("vid_",)
# Idle workers poll SQLite at most this often; a new task waits no longer.
MAX_POLL_SECONDS = 0.5
STOP_TIMEOUT_SECONDS = 5.0

RenderFn = Callable[..., Any]
SweepFn = Callable[..., Any]


def make_huey(queue_url: str, *, name: str = QUEUE_NAME) -> Huey:
    """Huey on Redis for ``redis://`` (and ``rediss://``) URLs, else on SQLite.

    ``name`` separates queues sharing one Redis or one SQLite file.
    """
    if queue_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name, url=queue_url, results=False)

    if not queue_url.startswith("sqlite:///"):
        raise ValueError(
            f"queue_url: expected sqlite:///<path> or redis://..., got {queue_url!r}"
        )
    filename = Path(queue_url.removeprefix("sqlite:///"))
    filename.parent.mkdir(parents=True, exist_ok=True)
    # Huey keeps one connection behind a lock; the timeout makes a second process
    # wait for SQLite's write lock instead of failing.
    return SqliteHuey(name, filename=str(filename), results=False, timeout=30)


class _InProcessConsumer(Consumer):
    """A consumer living inside another server: the host process owns signals."""

    def _set_signal_handlers(self) -> None:
        pass


class RenderQueue:
    """Enqueues renders and runs the consumers and the sweeper that drain them.

    ``render`` and ``sweep`` default to ``generation.tasks.render_record`` and
    ``generation.sweep.sweep``; tests may pass their own. ``heavy``, when given,
    is the Huey that video and reel renders are routed to.
    """

    def __init__(
        self,
        huey: Huey,
        *,
        settings: Settings,
        runtime: Runtime,
        render: RenderFn | None = None,
        sweep: SweepFn | None = None,
        heavy: Huey | None = None,
    ) -> None:
        self.huey = huey
        self.heavy = heavy
        self.settings = settings
        self.runtime = runtime
        self._render = render
        self._sweep = sweep
        self._consumers: list[Consumer] = []
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

        self._tasks = {DEFAULT: huey.task(name=TASK_NAME)(render_record)}
        if heavy is not None:
            self._tasks[HEAVY] = heavy.task(name=TASK_NAME)(render_record)

    @property
    def hueys(self) -> dict[str, Huey]:
        """The queues by role: "default", and "heavy" when routing is on."""
        hueys = {DEFAULT: self.huey}
        if self.heavy is not None:
            hueys[HEAVY] = self.heavy
        return hueys

    def route(self, record_id: str) -> str:
        """The queue a record's render goes to."""
        if self.heavy is not None and record_id.startswith(HEAVY_ID_PREFIXES):
            return HEAVY
        return DEFAULT

    def select(self, queues: str | None) -> list[str]:
        """Queue roles from a worker's ``--queue``: default, heavy or all."""
        if queues in (None, "all"):
            return list(self.hueys)
        if queues not in self.hueys:
            known = ", ".join([*self.hueys, "all"])
            raise ValueError(f"queue: expected one of {known}, got {queues!r}")
        return [queues]

    def enqueue(
        self, record_id: str, *, request_id: str | None = None, delay: float = 0
    ) -> None:
        """Queue one render of ``record_id`` (after ``delay`` seconds)."""
        kwargs = {"request_id": request_id}
        queue = self.route(record_id)
        task = self._tasks[queue]
        if delay > 0:
            task.schedule(args=(record_id,), kwargs=kwargs, delay=delay)
        else:
            task(record_id, **kwargs)
        log.debug("queue.enqueued", record_id=record_id, delay=delay, queue=queue)

    def depth(self) -> int:
        """Tasks waiting: ready in the queues plus scheduled for later (retries)."""
        return sum(huey.pending_count() + huey.scheduled_count()
                   for huey in self.hueys.values())

    def sweep_now(self) -> Any:
        sweep = self._sweep
        if sweep is None:
            from lightbox.generation.sweep import sweep
        return sweep(self.runtime)

    def start_consumers(self, workers: int, *, queues: str | None = None) -> None:
        """Start ``workers`` consumer threads per queue and the sweeper here.

        For ``lightbox serve``: signals stay with the host server, and ``stop()``
        ends the threads. With ``workers=0`` only the sweeper runs (renders are
        left to ``lightbox worker`` processes).
        """
        roles = self.select(queues)
        with self._lock:
            if self._consumers or self._sweeper is not None:
                raise RuntimeError("consumers already started on this queue")
            self._stop.clear()
            if workers > 0:
                for role in roles:
                    consumer = self._make_consumer(_InProcessConsumer, workers,
                                                   self.hueys[role])
                    consumer.start()
                    self._consumers.append(consumer)
            self._start_sweeper()
        log.info("queue.consumers_started", workers=workers, queues=roles)

    def run_worker(self, concurrency: int, *, queues: str | None = None) -> None:
        """Run consumers and the sweeper in the foreground until SIGINT/SIGTERM.

        For ``lightbox worker``: Huey's consumer installs its signal handlers, so
        this must be called from the main thread. SIGINT finishes running renders
        first; anything interrupted is recovered by a sweep when its lease expires.
        ``queues``: "default", "heavy" or None/"all"; ``concurrency`` threads each.
        """
        if concurrency < 1:
            raise ValueError(f"concurrency: must be at least 1, got {concurrency}")
        roles = self.select(queues)

        # The first queue's consumer owns the signals and the foreground; the
        # others run beside it and stop when it does.
        main = self._make_consumer(Consumer, concurrency, self.hueys[roles[0]])
        others = [self._make_consumer(_InProcessConsumer, concurrency,
                                      self.hueys[role]) for role in roles[1:]]
        with self._lock:
            self._stop.clear()
            self._consumers = [main, *others]
            for consumer in others:
                consumer.start()
            self._start_sweeper()
        log.info("queue.worker_started", concurrency=concurrency, queues=roles)
        try:
            main.run()
        finally:
            for consumer in others:
                consumer.stop(graceful=True)
            self._stop_sweeper()
            with self._lock:
                self._consumers = []
            log.info("queue.worker_stopped")

    def stop(self, *, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop consumers and sweeper, waiting up to ``timeout`` for running renders.

        A render still running after the timeout keeps its thread (threads cannot
        be killed); if it never commits, its lease expires and a sweep recovers it.
        """
        with self._lock:
            consumers, self._consumers = self._consumers, []
        for consumer in consumers:
            consumer.shutdown_timeout = timeout
            consumer.stop(graceful=True)
        self._stop_sweeper(timeout=timeout)
        for huey in self.hueys.values():
            huey.storage.close()

    def _make_consumer(self, cls: type[Consumer], workers: int,
                       huey: Huey) -> Consumer:
        return cls(
            huey,
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
    url, name = settings.resolved_queue_url, settings.queue_name
    heavy = make_huey(url, name=f"{name}-heavy") if settings.heavy_queue else None
    return RenderQueue(
        make_huey(url, name=name),
        settings=settings,
        runtime=runtime,
        render=render,
        sweep=sweep,
        heavy=heavy,
    )
