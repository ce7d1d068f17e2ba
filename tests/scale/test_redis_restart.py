"""Redis restarted while orders are queued: the database still knows every record.

The queue runs on a private ``redis-server`` (no persistence, like a cache node
that was replaced), so restarting it loses every queued message. The sweep finds
the records nobody claimed and enqueues them again; each is rendered and charged
once.
"""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest
import redis
from conftest import free_port, require_service, wait_for

from lightbox.generation.models import DONE

pytestmark = [pytest.mark.services, pytest.mark.slow]

PRICE = 10  # a scenery


class PrivateRedis:
    def __init__(self, workdir) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        wait_for(lambda: self._ping(client), timeout=10, interval=0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # as abrupt as a lost node: nothing is saved
            self.proc.wait(timeout=10)

    @staticmethod
    def _ping(client) -> bool:
        try:
            return client.ping()
        except redis.RedisError:
            return False


@pytest.fixture
def private_redis(tmp_path):
    require_service("redis-server binary", lambda: subprocess.run(
        ["redis-server", "--version"], check=True, capture_output=True))
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def cluster_settings(cluster_settings, private_redis):
    # The queue and the rate limiter: everything Redis does goes down together.
    cluster_settings.queue_url = private_redis.url
    cluster_settings.redis_url = private_redis.url
    cluster_settings.queue_name = "lightbox"
    return cluster_settings


def test_orders_queued_across_a_redis_restart_are_all_rendered_once(
    cluster, private_redis
):
    team_id, key = cluster.make_team(credits_=1000)
    api = cluster.start_api()
    client = httpx.Client(base_url=f"{api.url}/api/external",
                          headers={"X-Api-Key": key}, timeout=30)
    queue = redis.Redis.from_url(private_redis.url)

    def register(count: int) -> list[str]:
        response = client.post("/sceneries/register-ideas", json={
            "preferences": "white seamless paper", "count": count})
        assert response.status_code == 200, response.text
        return response.json()["createdRecordIds"]

    # Queued, with no worker running yet.
    before = register(3)
    assert queue.llen("huey.redis.lightbox") == 3
    private_redis.stop()
    # Accepted while Redis is down (the limiter fails open): committed in the
    # database, the enqueue lost.
    during = register(2)
    private_redis.start()
    assert queue.llen("huey.redis.lightbox") == 0

    started = time.monotonic()
    cluster.start_worker(concurrency=2)
    wait_for(lambda: cluster.unfinished(team_id) == 0, timeout=60, interval=0.25)
    recovered_in = time.monotonic() - started

    ids = sorted(before + during)
    records = cluster.records(team_id)
    assert sorted(r.id for r in records) == ids
    assert all(r.status == DONE and r.attempts == 1 for r in records)
    assert cluster.consumed_per_record(team_id) == {i: 1 for i in ids}
    assert cluster.ledger(team_id) == {"grant": 1000, "reserve": 5 * PRICE,
                                       "consume": 5 * PRICE}
    health = httpx.get(f"{api.url}/healthz", timeout=5)
    assert health.status_code == 200, health.text
    assert recovered_in < 45, recovered_in
    client.close()
