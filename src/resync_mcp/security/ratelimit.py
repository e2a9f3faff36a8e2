"""Per-principal rate limits by toolset: a token bucket per (principal, toolset).

The bucket holds a tenth of a minute's allowance (at least one call) and refills at the
per-minute rate, so that a burst is allowed but a loop is not. The decision is a pure
function of the bucket and the time; the store keeps buckets in process (Redis sharing across
replicas comes with the shared safety state).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from resync_mcp.errors import ResyncError
from resync_mcp.security.policy import Principal


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
        self._buckets: dict[tuple[str | None, str, str], Bucket] = {}
        self.rejected = 0

    def check(self, principal: Principal, toolset: str) -> None:
        """Raises RateLimited, saying when to retry, when this call is over the limit."""
        limit = self.per_minute.get(toolset, 0)
        if limit <= 0:
            return
        key = (principal.issuer, principal.id, toolset)
        if key not in self._buckets and len(self._buckets) >= self.max_buckets:
            self._buckets.clear()  # bounded memory: an attacker minting principals resets, never grows
        self._buckets[key], wait = take(self._buckets.get(key), self.monotonic(), limit)
        if wait > 0:
            self.rejected += 1
            raise RateLimited(
                f"Too many {toolset} calls by {principal.id}: at most {limit} a minute.",
                hint=f"Retry in {math.ceil(wait)} s; nothing was read or changed.",
            )
