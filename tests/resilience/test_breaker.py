"""Breaker transitions as pure functions over an injected clock."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from resync_mcp.resilience.breaker import BreakerPolicy, BreakerState, admit, on_abandon, on_failure, on_success

P = BreakerPolicy(threshold=3, open_s=10.0, probes=1)


def test_opens_after_threshold_consecutive_failures() -> None:
    s = BreakerState()
    for i in range(3):
        ok, s = admit(s, P, float(i))
        assert ok.allowed
        s = on_failure(s, P, float(i))
    assert s.mode == "open" and s.opened_at == 2.0


def test_success_resets_the_failure_count() -> None:
    s = on_failure(on_failure(BreakerState(), P, 0), P, 1)
    s = on_success(s, P, 2)
    s = on_failure(on_failure(s, P, 3), P, 4)
    assert s.mode == "closed" and s.failures == 2


def test_open_refuses_with_the_time_of_the_next_probe() -> None:
    s = BreakerState(mode="open", failures=3, opened_at=100.0)
    verdict, s2 = admit(s, P, 105.0)
    assert not verdict.allowed and verdict.retry_at == 110.0 and s2 == s


def test_half_open_lets_a_bounded_number_of_probes_through() -> None:
    s = BreakerState(mode="open", failures=3, opened_at=0.0)
    first, s = admit(s, P, 10.0)
    second, s = admit(s, P, 10.5)
    assert first.allowed and first.probe and s.mode == "half_open"
    assert not second.allowed


def test_probe_success_closes_probe_failure_reopens() -> None:
    s = BreakerState(mode="open", failures=3, opened_at=0.0)
    _, half = admit(s, P, 10.0)
    assert on_success(half, P, 10.1).mode == "closed"
    again = on_failure(half, P, 10.1)
    assert again.mode == "open" and again.opened_at == 10.1


def test_abandoned_probe_frees_its_slot() -> None:
    _, half = admit(BreakerState(mode="open", opened_at=0.0), P, 10.0)
    assert on_abandon(half).probes_in_flight == 0


@given(st.lists(st.booleans(), max_size=60))
def test_never_more_than_threshold_failures_while_closed(outcomes: list[bool]) -> None:
    s = BreakerState()
    t = 0.0
    for ok in outcomes:
        t += 1.0
        verdict, s = admit(s, P, t)
        if not verdict.allowed:
            assert s.mode in ("open", "half_open")
            continue
        s = on_success(s, P, t) if ok else on_failure(s, P, t)
        if s.mode == "closed":
            assert s.failures < P.threshold


def test_consecutive_timeouts_open_sooner_than_other_failures() -> None:
    p = BreakerPolicy(threshold=5, open_s=10.0, probes=1, timeout_threshold=2)
    s = on_failure(BreakerState(), p, 0, timeout=True)
    assert s.mode == "closed" and s.timeouts == 1
    s = on_failure(s, p, 1, timeout=True)
    assert s.mode == "open"
    # A refused connection between two timeouts breaks the run: it counts only toward threshold.
    s = on_failure(on_failure(on_failure(BreakerState(), p, 0, timeout=True), p, 1), p, 2, timeout=True)
    assert s.mode == "closed" and s.failures == 3 and s.timeouts == 1
