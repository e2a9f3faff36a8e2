"""Circuit breaker: a pure state machine, and a thin async stage that carries it out.

closed --(threshold consecutive failures, or timeout_threshold consecutive timeouts)--> open
open --(open_s elapsed)--> half_open
half_open --(probe succeeds)--> closed;  half_open --(probe fails)--> open
While open, calls are refused at once with the time of the next probe. In half_open at
most ``probes`` calls are let through; the rest are refused like in open.

pybreaker is not used: wrapping a coroutine function with it never trips (stack notes),
and the transitions are easier to prove as pure functions over an injected clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Mode = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class BreakerPolicy:
    threshold: int = 5  # consecutive failures that open the breaker
    open_s: float = 15.0  # how long it stays open before probing
    probes: int = 1  # concurrent calls allowed while half-open
    # A hung engine costs a whole deadline per call: a few timeouts in a row are enough.
    timeout_threshold: int = 2


@dataclass(frozen=True)
class BreakerState:
    mode: Mode = "closed"
    failures: int = 0
    opened_at: float | None = None
    timeouts: int = 0  # consecutive timeouts among the failures
    probes_in_flight: int = 0


@dataclass(frozen=True)
class Admission:
    allowed: bool
    retry_at: float | None = None  # monotonic time of the next probe, when refused
    probe: bool = False


def admit(state: BreakerState, policy: BreakerPolicy, now: float) -> tuple[Admission, BreakerState]:
    """Decide whether a call may go upstream now."""
    if state.mode == "open":
        assert state.opened_at is not None
        reopen = state.opened_at + policy.open_s
        if now < reopen:
            return Admission(False, reopen), state
        state = replace(state, mode="half_open", probes_in_flight=0)
    if state.mode == "half_open":
        if state.probes_in_flight >= policy.probes:
            return Admission(False, now + policy.open_s), state
        return Admission(True, probe=True), replace(state, probes_in_flight=state.probes_in_flight + 1)
    return Admission(True), state


def on_success(state: BreakerState, policy: BreakerPolicy, now: float) -> BreakerState:
    return BreakerState()


def on_failure(state: BreakerState, policy: BreakerPolicy, now: float, *, timeout: bool = False) -> BreakerState:
    failures = state.failures + 1
    timeouts = state.timeouts + 1 if timeout else 0
    if state.mode == "half_open":
        return BreakerState(mode="open", failures=failures, opened_at=now, timeouts=timeouts)
    if state.mode == "closed" and (failures >= policy.threshold or timeouts >= policy.timeout_threshold):
        return BreakerState(mode="open", failures=failures, opened_at=now, timeouts=timeouts)
    return replace(state, failures=failures, timeouts=timeouts)


def on_abandon(state: BreakerState) -> BreakerState:
    """A probe that ended without a verdict (cancelled, or a caller error) frees its slot."""
    if state.mode == "half_open" and state.probes_in_flight > 0:
        return replace(state, probes_in_flight=state.probes_in_flight - 1)
    return state
