"""Retry schedule for idempotent reads: capped exponential backoff, full jitter,
``Retry-After`` honoured, and a budget so a dead engine is not hammered. Pure functions;
the caller supplies the random draw and the clock.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # total attempts, the first included
    base_s: float = 0.2
    cap_s: float = 2.0
    max_retry_after_s: float = 10.0  # a longer Retry-After is not waited for: fail and say when
    budget_ratio: float = 0.2  # retries may add at most this fraction of requests ...
    budget_min_per_s: float = 1.0  # ... plus this many per second, over the window
    budget_window_s: float = 10.0


def backoff(attempt: int, policy: RetryPolicy, draw: float) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)); ``draw`` is in [0, 1)."""
    return float(draw * min(policy.cap_s, policy.base_s * (2**attempt)))


def delay_before_retry(attempt: int, retry_after: float | None, policy: RetryPolicy, draw: float) -> float | None:
    """Seconds to wait before attempt ``attempt + 1`` (attempt counts from 0), or None to stop."""
    if attempt + 1 >= policy.attempts:
        return None
    if retry_after is not None:
        if retry_after > policy.max_retry_after_s:
            return None
        return max(retry_after, backoff(attempt, policy, draw))
    return backoff(attempt, policy, draw)


class RetryBudget:
    """Token bucket over a sliding window: retries <= ratio * requests + min_per_s * window."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._p = policy
        self._requests: list[float] = []
        self._retries: list[float] = []

    def _trim(self, now: float) -> None:
        horizon = now - self._p.budget_window_s
        self._requests = [t for t in self._requests if t > horizon]
        self._retries = [t for t in self._retries if t > horizon]

    def record_request(self, now: float) -> None:
        self._trim(now)
        self._requests.append(now)

    def try_spend(self, now: float) -> bool:
        """Take one retry from the budget; False when the budget is exhausted."""
        self._trim(now)
        allowance = self._p.budget_ratio * len(self._requests) + self._p.budget_min_per_s * self._p.budget_window_s
        if len(self._retries) + 1 > allowance:
            return False
        self._retries.append(now)
        return True
