"""Per-key request limits over a sliding window (API.md: 60 per minute by default).

A sliding log, not a fixed window: a client cannot send 60 requests at 12:00:59
and 60 more at 12:01:00. Rejected requests are not logged, so a client that backs
off as told by ``Retry-After`` gets back in.

The in-memory limiter serves one process; with ``settings.redis_url`` every API
process shares one Redis sorted set per key, updated by one Lua script so that
the check and the insert are a single atomic step.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog

from lightbox.config import Settings

log = structlog.get_logger(__name__)

WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # whole seconds until a request would be allowed; 0 if allowed


class RateLimiter(Protocol):
    limit: int

    def hit(self, bucket: str) -> RateDecision:
        """Count one request against ``bucket`` if the window has room."""


def _retry_after(oldest: float, now: float, window: float) -> int:
    # Round up: retrying after the advertised delay must succeed.
    return max(1, math.ceil(oldest + window - now))


class MemoryRateLimiter:
    """Thread-safe sliding log per bucket, for a single API process."""

    def __init__(
        self,
        limit: int,
        *,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}
        self._last_prune = clock()

    def hit(self, bucket: str) -> RateDecision:
        with self._lock:
            now = self._clock()
            self._prune_idle(now)
            hits = self._hits.setdefault(bucket, deque())
            cutoff = now - self.window
            while hits and hits[0] <= cutoff:
                hits.popleft()

            if len(hits) >= self.limit:
                return RateDecision(
                    allowed=False,
                    limit=self.limit,
                    remaining=0,
                    retry_after=_retry_after(hits[0], now, self.window),
                )
            hits.append(now)
            return RateDecision(
                allowed=True,
                limit=self.limit,
                remaining=self.limit - len(hits),
                retry_after=0,
            )

    def _prune_idle(self, now: float) -> None:
        # Forget buckets idle for a whole window, at most once per window, so
        # memory follows the number of active keys rather than every key seen.
        if now - self._last_prune < self.window:
            return
        self._last_prune = now
        cutoff = now - self.window
        for bucket in [b for b, h in self._hits.items() if not h or h[-1] <= cutoff]:
            del self._hits[bucket]


# KEYS[1] = the bucket's sorted set; ARGV = limit, window in microseconds, member
# suffix. Scores are Redis server time in microseconds, so API processes with
# skewed clocks still share one timeline.
_SLIDING_WINDOW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local wait = window
  if oldest[2] then wait = tonumber(oldest[2]) + window - now end
  return {0, 0, wait}
end
redis.call('ZADD', KEYS[1], now, t[1] .. t[2] .. '-' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
return {1, limit - count - 1, 0}
"""


class RedisRateLimiter:
    """Sliding log in a Redis sorted set per bucket, shared by every API process."""

    def __init__(
        self,
        client,
        limit: int,
        *,
        window: float = WINDOW_SECONDS,
        prefix: str = "lightbox:ratelimit:",
    ) -> None:
        self.limit = limit
        self.window = window
        self.prefix = prefix
        self._client = client
        self._script = client.register_script(_SLIDING_WINDOW_LUA)

    def hit(self, bucket: str) -> RateDecision:
        import redis

        window_us = int(self.window * 1_000_000)
        try:
            allowed, remaining, wait_us = self._script(
                keys=[self.prefix + bucket],
                args=[self.limit, window_us, secrets.token_hex(6)],
            )
        except redis.RedisError as exc:
            # Fail open: an unreachable Redis must not take the whole API down
            # with it. Limitation: while Redis is down no key is limited; a local
            # MemoryRateLimiter fallback per process would bound that.
            log.error("ratelimit.backend_unavailable", error=str(exc))
            return RateDecision(True, self.limit, self.limit, 0)
        if allowed:
            return RateDecision(True, self.limit, int(remaining), 0)
        retry_after = max(1, math.ceil(int(wait_us) / 1_000_000))
        return RateDecision(False, self.limit, 0, retry_after)


def open_rate_limiter(settings: Settings) -> RateLimiter:
    """Redis-backed when ``settings.redis_url`` is set, else in process memory."""
    limit = settings.rate_limit_per_minute
    if settings.redis_url:
        log.info("ratelimit.backend", backend="redis", limit=limit)
        return RedisRateLimiter(redis_client(settings.redis_url), limit)
    return MemoryRateLimiter(limit)


def redis_client(url: str):
    """A client that gives up fast: every API request waits on it."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # redis-py's default retries with backoff would hold each request for seconds
    # when Redis is down; one immediate retry covers a dropped pooled connection.
    return redis.Redis.from_url(
        url, socket_timeout=0.5, socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 1),
    )
