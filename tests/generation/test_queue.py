"""The render queue on real Huey storage with real consumer threads.

The render and sweep functions are injected recorders here: these tests are about
delivery (what reaches a worker, when, in which process), not about rendering.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest
from conftest import REDIS_URL, require_service, test_settings, wait_for
from huey import RedisHuey, SqliteHuey

from lightbox.generation.queue import RenderQueue, make_huey, open_queue


class Recorder:
    """Stands in for ``tasks.render_record`` / ``sweep.sweep``; thread-safe."""

    def __init__(self, *, seconds: float = 0.0) -> None:
        self.calls: list[tuple[str, str | None, str]] = []
        self.sweeps = 0
        self.seconds = seconds
        self.lock = threading.Lock()

    def render(self, runtime, record_id: str, *, request_id=None) -> None:
        time.sleep(self.seconds)
        with self.lock:
            self.calls.append((record_id, request_id, threading.current_thread().name))

    def sweep(self, runtime) -> None:
        with self.lock:
            self.sweeps += 1

    def ids(self) -> list[str]:
        with self.lock:
            return [call[0] for call in self.calls]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def queues():
    """Queues made by a test; all stopped at teardown."""
    made: list[RenderQueue] = []

    def _make(settings, recorder: Recorder) -> RenderQueue:
        queue = open_queue(settings, runtime=None, render=recorder.render,
                           sweep=recorder.sweep)
        made.append(queue)
        return queue

    yield _make
    for queue in made:
        queue.stop(timeout=2)


class TestBackends:
    def test_sqlite_by_default_in_the_data_dir(self, settings):
        huey = make_huey(settings.resolved_queue_url)

        assert isinstance(huey, SqliteHuey)
        assert Path(huey.storage.filename) == (
            settings.data_dir / "queue.sqlite"
        ).resolve()

    def test_redis_for_redis_urls(self):
        # Building the client connects lazily, so no server is needed here.
        assert isinstance(make_huey("redis://127.0.0.1:6379/3"), RedisHuey)

    def test_unknown_url_names_the_value(self):
        with pytest.raises(ValueError, match="amqp://x"):
            make_huey("amqp://x")


class TestDelivery:
    def test_consumers_run_each_enqueued_record_with_its_request_id(
        self, settings, recorder, queues
    ):
        queue = queues(settings, recorder)
        queue.start_consumers(2)

        for n in range(6):
            queue.enqueue(f"img_{n}", request_id=f"req-{n}")

        wait_for(lambda: len(recorder.ids()) == 6, timeout=10)
        assert {(c[0], c[1]) for c in recorder.calls} == {
            (f"img_{n}", f"req-{n}") for n in range(6)
        }
        # Two worker threads, never the test's thread.
        assert {c[2] for c in recorder.calls} <= {"Worker-1", "Worker-2"}
        assert queue.depth() == 0

    def test_tasks_enqueued_before_start_wait_in_storage(
        self, settings, recorder, queues
    ):
        first = queues(settings, recorder)
        first.enqueue("img_a")
        first.enqueue("img_b", request_id="req-b")
        assert first.depth() == 2
        first.stop()

        # Another queue object on the same file (a restarted server) runs them.
        second = queues(settings, recorder)
        assert second.depth() == 2
        second.start_consumers(1)

        wait_for(lambda: len(recorder.ids()) == 2, timeout=10)
        assert sorted((c[0], c[1]) for c in recorder.calls) == [
            ("img_a", None), ("img_b", "req-b")
        ]

    def test_delayed_enqueue_runs_after_its_delay(self, settings, recorder, queues):
        queue = queues(settings, recorder)
        queue.start_consumers(1)
        started = time.monotonic()

        queue.enqueue("img_later", delay=2)

        wait_for(lambda: recorder.ids() == ["img_later"], timeout=10, interval=0.02)
        assert time.monotonic() - started >= 1.9

    def test_scheduled_tasks_count_in_depth(self, settings, recorder, queues):
        queue = queues(settings, recorder)

        queue.enqueue("img_now")
        queue.enqueue("img_later", delay=60)
        queue.start_consumers(1)

        wait_for(lambda: recorder.ids() == ["img_now"], timeout=10)
        # The delayed one moved from the queue into the schedule: still waiting.
        wait_for(lambda: queue.huey.scheduled_count() == 1, timeout=5)
        assert queue.depth() == 1

    def test_two_queues_in_one_process_keep_their_own_tasks(
        self, tmp_path, queues
    ):
        a, b = Recorder(), Recorder()
        queue_a = queues(test_settings(tmp_path / "a"), a)
        queue_b = queues(test_settings(tmp_path / "b"), b)
        queue_a.start_consumers(1)
        queue_b.start_consumers(1)

        queue_a.enqueue("img_for_a")
        queue_b.enqueue("img_for_b")

        wait_for(lambda: a.ids() and b.ids(), timeout=10)
        time.sleep(0.3)
        assert (a.ids(), b.ids()) == (["img_for_a"], ["img_for_b"])

    def test_stop_waits_for_a_running_render(self, settings, queues):
        slow = Recorder(seconds=0.8)
        queue = queues(settings, slow)
        queue.start_consumers(1)
        queue.enqueue("img_slow")
        wait_for(lambda: queue.depth() == 0, timeout=5, interval=0.01)
        time.sleep(0.1)  # the worker is now inside the 0.8 s render

        queue.stop(timeout=5)

        assert slow.ids() == ["img_slow"]

    def test_start_twice_is_refused(self, settings, recorder, queues):
        queue = queues(settings, recorder)
        queue.start_consumers(1)

        with pytest.raises(RuntimeError, match="already started"):
            queue.start_consumers(1)


class TestSweeper:
    def test_sweeps_at_start_then_every_sweep_seconds_until_stopped(
        self, settings, recorder, queues
    ):
        assert settings.sweep_seconds == 1
        queue = queues(settings, recorder)

        queue.start_consumers(0)
        wait_for(lambda: recorder.sweeps >= 1, timeout=2, interval=0.01)
        wait_for(lambda: recorder.sweeps >= 3, timeout=5)
        queue.stop()
        swept = recorder.sweeps
        time.sleep(1.5)

        assert recorder.sweeps == swept

    def test_a_failing_sweep_does_not_end_the_sweeper(self, settings, queues):
        attempts = []

        def flaky(runtime):
            attempts.append(1)
            raise RuntimeError("database is down")

        recorder = Recorder()
        recorder.sweep = flaky
        queue = queues(settings, recorder)
        queue.start_consumers(0)

        wait_for(lambda: len(attempts) >= 2, timeout=5)


WORKER_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from lightbox.config import Settings
    from lightbox.generation.queue import open_queue

    out = Path(sys.argv[2])

    def render(runtime, record_id, *, request_id=None):
        with out.open("a") as f:
            f.write(f"{record_id} {request_id}\\n")

    settings = Settings(data_dir=Path(sys.argv[1]), env="test", sweep_seconds=60)
    queue = open_queue(settings, None, render=render, sweep=lambda runtime: None)
    print("ready", flush=True)
    queue.run_worker(2)
    print("stopped", flush=True)
    """
)


class TestWorkerProcess:
    def test_run_worker_renders_what_another_process_enqueued_and_stops_on_sigint(
        self, settings, recorder, queues, tmp_path
    ):
        settings.data_dir.mkdir(parents=True)
        out = tmp_path / "rendered.txt"
        proc = subprocess.Popen(
            [sys.executable, "-c", WORKER_SCRIPT, str(settings.data_dir), str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert proc.stdout.readline().strip() == "ready"
            queue = queues(settings, recorder)  # this process only enqueues
            queue.enqueue("img_1", request_id="req-1")
            queue.enqueue("img_2")

            wait_for(lambda: out.exists() and len(out.read_text().splitlines()) == 2,
                     timeout=15)
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()

        assert proc.returncode == 0, stderr
        assert "stopped" in stdout
        assert sorted(out.read_text().splitlines()) == ["img_1 req-1", "img_2 None"]
        assert recorder.ids() == []


class TestRedis:
    def test_delivery_through_a_real_redis(self, settings, recorder):
        import redis

        require_service("Redis", lambda: redis.Redis.from_url(
            REDIS_URL, socket_connect_timeout=1).ping())
        # A unique queue name keeps parallel runs on a shared Redis apart.
        huey = RedisHuey(f"lightbox-test-{uuid.uuid4().hex}", url=REDIS_URL,
                         results=False)
        queue = RenderQueue(huey, settings=settings, runtime=None,
                            render=recorder.render, sweep=recorder.sweep)
        try:
            queue.enqueue("img_r1", request_id="req-r1")
            queue.enqueue("img_r2", delay=1)
            assert queue.depth() == 2
            queue.start_consumers(2)

            wait_for(lambda: len(recorder.ids()) == 2, timeout=10)
            assert sorted((c[0], c[1]) for c in recorder.calls) == [
                ("img_r1", "req-r1"), ("img_r2", None)
            ]
            assert queue.depth() == 0
        finally:
            queue.stop(timeout=2)
            huey.flush()


def test_settings_queue_url_selects_redis(tmp_path):
    settings = test_settings(tmp_path, queue_url="redis://127.0.0.1:6379/0")
    assert isinstance(open_queue(settings, None).huey, RedisHuey)
    assert os.fspath(settings.resolved_queue_url).startswith("redis://")
