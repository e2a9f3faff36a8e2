"""Retry schedule: full jitter, cap, Retry-After, attempts, budget."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from resync_mcp.resilience.retry import RetryBudget, RetryPolicy, backoff, delay_before_retry

P = RetryPolicy(attempts=3, base_s=0.2, cap_s=1.0, max_retry_after_s=5.0)


@given(st.integers(0, 20), st.floats(0, 0.999999))
def test_backoff_is_full_jitter_under_the_cap(attempt: int, draw: float) -> None:
    d = backoff(attempt, P, draw)
    assert 0 <= d < min(P.cap_s, P.base_s * 2**attempt) + 1e-12


def test_three_attempts_means_two_waits() -> None:
    assert delay_before_retry(0, None, P, 0.5) == 0.1
    assert delay_before_retry(1, None, P, 0.5) == 0.2
    assert delay_before_retry(2, None, P, 0.5) is None


def test_retry_after_is_honoured_and_too_long_a_wait_gives_up() -> None:
    assert delay_before_retry(0, 3.0, P, 0.5) == 3.0
    assert delay_before_retry(0, 60.0, P, 0.5) is None


def test_budget_caps_retries_relative_to_requests() -> None:
    policy = RetryPolicy(budget_ratio=0.1, budget_min_per_s=0.0, budget_window_s=10.0)
    budget = RetryBudget(policy)
    for i in range(50):
        budget.record_request(i * 0.1)
    spent = sum(budget.try_spend(5.0) for _ in range(20))
    assert spent == 5  # 10 % of 50 requests
    assert not budget.try_spend(20.0)  # the window moved on: no recent requests, no allowance
    for _ in range(10):
        budget.record_request(20.0)
    assert budget.try_spend(20.0) and not budget.try_spend(20.0)
