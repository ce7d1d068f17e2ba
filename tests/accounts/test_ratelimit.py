"""Sliding-window rate limiters: in memory and on a real Redis."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from conftest import REDIS_URL, require_service, test_settings

from lightbox.accounts.ratelimit import (
    MemoryRateLimiter,
    RedisRateLimiter,
    open_rate_limiter,
    redis_client,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def hammer(limiter, bucket: str, *, threads: int, hits: int) -> int:
    """Hit ``bucket`` from many threads at once; returns how many were allowed."""
    allowed = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def worker() -> None:
        barrier.wait()
        mine = sum(limiter.hit(bucket).allowed for _ in range(hits))
        with lock:
            allowed.append(mine)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(allowed)


class TestMemory:
    def test_allows_the_limit_then_refuses_with_retry_after(self):
        clock = FakeClock()
        limiter = MemoryRateLimiter(60, clock=clock)

        remaining = []
        for _ in range(60):
            decision = limiter.hit("key:a")
            assert decision.allowed and decision.limit == 60
            remaining.append(decision.remaining)
            clock.now += 0.5
        assert remaining == list(range(59, -1, -1))

        refused = limiter.hit("key:a")
        assert (refused.allowed, refused.remaining) == (False, 0)
        # The first hit was at 1000.0, now is 1030.0: room again at 1060.0.
        assert refused.retry_after == 30

    def test_window_slides_one_request_at_a_time(self):
        clock = FakeClock()
        limiter = MemoryRateLimiter(3, clock=clock)
        for offset in (0.0, 10.0, 20.0):
            clock.now = 1000.0 + offset
            assert limiter.hit("b").allowed

        clock.now = 1059.9
        assert not limiter.hit("b").allowed
        clock.now = 1060.1  # the first hit left the window, only it
        assert limiter.hit("b").allowed
        assert not limiter.hit("b").allowed
        clock.now = 1070.1
        decision = limiter.hit("b")
        assert decision.allowed and decision.remaining == 0

    def test_refused_requests_do_not_extend_the_wait(self):
        clock = FakeClock()
        limiter = MemoryRateLimiter(1, clock=clock)
        assert limiter.hit("b").allowed
        for _ in range(50):
            clock.now += 1
            assert not limiter.hit("b").allowed
        clock.now = 1060.5
        assert limiter.hit("b").allowed

    def test_buckets_are_independent(self):
        limiter = MemoryRateLimiter(2, clock=FakeClock())
        assert limiter.hit("a").allowed and limiter.hit("a").allowed
        assert not limiter.hit("a").allowed
        assert limiter.hit("b").allowed

    def test_idle_buckets_are_forgotten(self):
        clock = FakeClock()
        limiter = MemoryRateLimiter(5, clock=clock)
        for i in range(100):
            limiter.hit(f"key:{i}")
        clock.now += 61
        limiter.hit("key:new")
        assert set(limiter._hits) == {"key:new"}

    def test_exact_under_threads(self):
        limiter = MemoryRateLimiter(50)
        assert hammer(limiter, "key:t", threads=16, hits=10) == 50


@pytest.fixture
def shared_redis():
    client = redis_client(REDIS_URL)
    require_service("Redis", client.ping)
    prefix = f"lbtest:{uuid.uuid4().hex}:"
    yield client, prefix
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.mark.services
class TestRedis:
    def test_allows_the_limit_then_refuses(self, shared_redis):
        client, prefix = shared_redis
        limiter = RedisRateLimiter(client, 5, prefix=prefix)

        decisions = [limiter.hit("key:a") for _ in range(6)]
        assert [d.allowed for d in decisions] == [True] * 5 + [False]
        assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
        assert 1 <= decisions[-1].retry_after <= 60
        assert limiter.hit("key:b").allowed
        # One sorted set per bucket, expiring with the window.
        assert client.zcard(prefix + "key:a") == 5
        assert 0 < client.pttl(prefix + "key:a") <= 60_000

    def test_window_slides(self, shared_redis):
        client, prefix = shared_redis
        limiter = RedisRateLimiter(client, 2, window=1.0, prefix=prefix)
        assert limiter.hit("k").allowed
        time.sleep(0.5)
        assert limiter.hit("k").allowed
        refused = limiter.hit("k")
        assert not refused.allowed and refused.retry_after == 1

        time.sleep(0.6)  # the first hit left the window, the second has not
        assert limiter.hit("k").allowed
        assert not limiter.hit("k").allowed

    def test_atomic_under_threads_and_shared_between_limiters(self, shared_redis):
        client, prefix = shared_redis
        # Two limiter objects stand for two API processes sharing one Redis.
        first = RedisRateLimiter(client, 50, prefix=prefix)
        second = RedisRateLimiter(client, 50, prefix=prefix)

        allowed = hammer(first, "key:t", threads=8, hits=10)
        allowed += hammer(second, "key:t", threads=8, hits=10)

        assert allowed == 50
        assert client.zcard(prefix + "key:t") == 50

    def test_open_rate_limiter_uses_redis_when_configured(self, shared_redis,
                                                          tmp_path):
        settings = test_settings(tmp_path, redis_url=REDIS_URL,
                                 rate_limit_per_minute=7)
        limiter = open_rate_limiter(settings)
        assert isinstance(limiter, RedisRateLimiter) and limiter.limit == 7


def test_open_rate_limiter_in_memory_by_default(tmp_path):
    limiter = open_rate_limiter(test_settings(tmp_path, rate_limit_per_minute=9))
    assert isinstance(limiter, MemoryRateLimiter) and limiter.limit == 9


def test_unreachable_redis_fails_open(tmp_path):
    client = redis_client("redis://127.0.0.1:1/0")  # nothing listens on port 1

    started = time.monotonic()
    decision = RedisRateLimiter(client, 3).hit("key:x")

    assert decision.allowed and decision.remaining == 3
    assert time.monotonic() - started < 1.5
