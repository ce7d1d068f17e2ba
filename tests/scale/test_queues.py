"""Queue names and heavy routing, on the embedded SQLite queue (no services).

The same ``RenderQueue`` code serves Redis; here the point is which Huey queue a
record id lands on and which one ``lightbox worker --queue`` drains.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import test_settings, wait_for

from lightbox.generation.queue import open_queue

CLI = [sys.executable, "-c", "from lightbox.cli import app; app()"]
# The caller's environment without its LIGHTBOX_* settings.
BASE_ENV = {k: v for k, v in os.environ.items() if not k.startswith("LIGHTBOX_")}


def test_videos_and_reels_are_routed_to_the_heavy_queue(tmp_path):
    settings = test_settings(tmp_path / "data", heavy_queue=True, queue_name="acme")
    queue = open_queue(settings, None)
    try:
        for record_id in ("img_a", "ps_b", "model_c", "scn_d", "vid_e", "vid_f"):
            queue.enqueue(record_id)

        assert queue.huey.name == "acme" and queue.heavy.name == "acme-heavy"
        assert queue.huey.pending_count() == 4
        assert queue.heavy.pending_count() == 2
        assert queue.depth() == 6
        assert queue.select(None) == queue.select("all") == ["default", "heavy"]
        assert queue.select("heavy") == ["heavy"]
        with pytest.raises(ValueError, match="queue: expected one of default, "
                                             "heavy, all, got 'videos'"):
            queue.select("videos")
    finally:
        queue.stop()


def test_without_routing_everything_shares_one_queue(tmp_path):
    queue = open_queue(test_settings(tmp_path / "data"), None)
    try:
        queue.enqueue("vid_a")
        queue.enqueue("img_b")
        assert queue.heavy is None and queue.huey.pending_count() == 2
        with pytest.raises(ValueError, match="got 'heavy'"):
            queue.select("heavy")
    finally:
        queue.stop()


def test_a_heavy_worker_drains_only_the_heavy_queue(tmp_path):
    settings = test_settings(tmp_path / "data", heavy_queue=True)
    queue = open_queue(settings, None)
    # Ids of records that do not exist: the task claims nothing and returns.
    queue.enqueue("img_light")
    queue.enqueue("vid_heavy")
    env = {"LIGHTBOX_DATA_DIR": str(settings.data_dir), "LIGHTBOX_ENV": "test",
           "LIGHTBOX_HEAVY_QUEUE": "1", "LIGHTBOX_LOG_LEVEL": "WARNING",
           **BASE_ENV}
    proc = subprocess.Popen([*CLI, "worker", "--queue", "heavy"],
                            env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: queue.heavy.pending_count() == 0 or proc.poll() is not None,
                 timeout=30)
        assert proc.poll() is None, proc.stderr.read()
        assert queue.huey.pending_count() == 1  # the light one is left alone
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        queue.stop()


def test_an_unknown_queue_is_refused_by_the_worker_command(tmp_path):
    done = subprocess.run(
        [*CLI, "--data-dir", str(tmp_path), "worker", "--queue", "heavy"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**BASE_ENV, "LIGHTBOX_ENV": "test"},
    )
    assert done.returncode == 2
    assert "queue: expected one of default, all, got 'heavy'" in done.stderr
