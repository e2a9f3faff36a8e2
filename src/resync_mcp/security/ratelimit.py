"""Per-principal rate limits by toolset: a token bucket per (principal, toolset).

The bucket holds a tenth of a minute's allowance (at least one call) and refills at the
per-minute rate, so that a burst is allowed but a loop is not. The decision is a pure
function of the bucket and the time. Buckets live in process, or in Redis when it is
configured, so that replicas share them (one Lua script: read, refill, take, write); if Redis
does not answer, the replica limits in process rather than not at all.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from resync_mcp.errors import ResyncError
from resync_mcp.security.policy import Principal

if TYPE_CHECKING:
    from redis.asyncio import Redis


class RateLimited(ResyncError):
    """Too many calls of one toolset by one principal; nothing was read or sent."""


@dataclass(frozen=True)
class Bucket:
    tokens: float
    at: float


def take(bucket: Bucket | None, now: float, per_minute: int) -> tuple[Bucket, float]:
    """The bucket after one call at ``now``, and how long to wait (0: the call may go)."""
    capacity = max(1.0, per_minute / 10)
    rate = per_minute / 60.0
    tokens = capacity if bucket is None else min(capacity, bucket.tokens + (now - bucket.at) * rate)
    if tokens >= 1.0:
        return Bucket(tokens - 1.0, now), 0.0
    return Bucket(tokens, now), (1.0 - tokens) / rate


class RateLimits:
    def __init__(
        self, per_minute: Mapping[str, int], monotonic: Callable[[], float], max_buckets: int = 50_000
    ) -> None:
        self.per_minute, self.monotonic, self.max_buckets = per_minute, monotonic, max_buckets
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self.rejected = 0

    async def check(self, principal: Principal, toolset: str) -> None:
        """Raises RateLimited, saying when to retry, when this call is over the limit."""
        limit = self.per_minute.get(toolset, 0)
        if limit <= 0:
            return
        wait = await self._take((principal.key, toolset), limit)
        if wait > 0:
            self.rejected += 1
            raise RateLimited(
                f"Too many {toolset} calls by {principal.id}: at most {limit} a minute.",
                hint=f"Retry in {math.ceil(wait)} s; nothing was read or changed.",
            )

    async def _take(self, key: tuple[str, str], limit: int) -> float:
        return self._take_here(key, limit)

    def _take_here(self, key: tuple[str, str], limit: int) -> float:
        if key not in self._buckets and len(self._buckets) >= self.max_buckets:
            self._buckets.clear()  # bounded memory: an attacker minting principals resets, never grows
        self._buckets[key], wait = take(self._buckets.get(key), self.monotonic(), limit)
        return wait


# take() in Lua, atomic in Redis: KEYS[1] the bucket, ARGV per_minute and now (seconds).
_TAKE = """
local per_minute, now = tonumber(ARGV[1]), tonumber(ARGV[2])
local capacity, rate = math.max(1, per_minute / 10), per_minute / 60
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(b[1]), tonumber(b[2])
if tokens == nil then tokens, at = capacity, now end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
return tostring(wait)
"""


class RedisRateLimits(RateLimits):
    """Buckets shared by every replica on one Redis; the wall clock is the replicas' common one."""

    def __init__(
        self,
        per_minute: Mapping[str, int],
        monotonic: Callable[[], float],
        redis: Redis,
        *,
        wall: Callable[[], float],
        prefix: str = "resync:",
        timeout_s: float = 0.05,
    ) -> None:
        super().__init__(per_minute, monotonic)
        self.redis, self.wall, self.prefix, self.timeout_s = redis, wall, prefix, timeout_s
        self.fallbacks = 0

    async def _take(self, key: tuple[str, str], limit: int) -> float:
        from redis.exceptions import RedisError  # imported only when Redis is configured

        name = self.prefix + "rl:" + hashlib.sha256("\x1f".join(key).encode()).hexdigest()[:32]
        try:
            with anyio.fail_after(self.timeout_s):
                answer = await self.redis.eval(_TAKE, 1, name, str(limit), repr(self.wall()))
            return float(answer)
        except (RedisError, OSError, TimeoutError, ValueError):
            self.fallbacks += 1  # limited here, for now, rather than not at all
            return self._take_here(key, limit)
