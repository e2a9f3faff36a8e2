"""Breaker, retry and bulkhead stages with a fake `next`, a fake clock and a recorded sleep."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

import anyio
import anyio.lowlevel
import pytest

from resync_mcp.clock import FakeClock
from resync_mcp.errors import EngineTimeout, EngineUnavailable, NotFound
from resync_mcp.resilience.breaker import BreakerPolicy
from resync_mcp.resilience.retry import RetryPolicy
from resync_mcp.resilience.stages import BreakerStage, BulkheadStage, RetryStage
from resync_mcp.tws.upstream import Fetched, UpstreamCall

pytestmark = pytest.mark.anyio
CALL = UpstreamCall(engine="prod", path="/plan/job", params=(), headers=(), what="querying jobs", kind="query")


def ok(clock: FakeClock) -> Fetched:
    return Fetched(200, b"{}", "application/json", clock.now())


def scripted(clock: FakeClock, outcomes: list[object]) -> tuple[Callable[[UpstreamCall], object], list[int]]:
    """A fake `next` that plays outcomes in order (an exception is raised) and counts calls."""
    calls = [0]

    async def nxt(call: UpstreamCall) -> Fetched:
        outcome = outcomes[min(calls[0], len(outcomes) - 1)]
        calls[0] += 1
        if isinstance(outcome, BaseException):
            raise outcome
        return ok(clock)

    return nxt, calls


def passing_sleep(clock: FakeClock) -> tuple[Callable[[float], Awaitable[None]], list[float]]:
    """A sleep that records each wait and passes it on the fake clock."""
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)
        clock.advance(s)

    return sleep, slept


def unavailable(retry_after: float | None = None) -> EngineUnavailable:
    return EngineUnavailable("503", status=503, retry_after=retry_after)


async def test_read_retried_after_503_503_then_200_exactly_three_attempts() -> None:
    clock = FakeClock()
    sleep, slept = passing_sleep(clock)
    stage = RetryStage(RetryPolicy(attempts=3, base_s=0.2, cap_s=1.0), clock, sleep, draw=lambda: 0.5)
    nxt, calls = scripted(clock, [unavailable(), unavailable(), "ok"])
    fetched = await stage(CALL, nxt)  # type: ignore[arg-type]
    assert fetched.status == 200 and calls[0] == 3 and slept == [0.1, 0.2]


async def test_retry_after_header_sets_the_wait() -> None:
    clock = FakeClock()
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    stage = RetryStage(RetryPolicy(), clock, sleep, draw=lambda: 0.0)
    nxt, _ = scripted(clock, [unavailable(retry_after=2.5), "ok"])
    await stage(CALL, nxt)  # type: ignore[arg-type]
    assert slept == [2.5]


async def test_writes_and_client_errors_are_never_retried() -> None:
    clock = FakeClock()
    stage = RetryStage(RetryPolicy(attempts=5), clock, lambda s: anyio.lowlevel.checkpoint(), draw=lambda: 0.0)
    write = UpstreamCall(engine="prod", path="/x", params=(), headers=(), what="w", kind="action", idempotent=False)
    nxt, calls = scripted(clock, [unavailable(), "ok"])
    with pytest.raises(EngineUnavailable):
        await stage(write, nxt)  # type: ignore[arg-type]
    assert calls[0] == 1
    nxt, calls = scripted(clock, [NotFound("gone"), "ok"])
    with pytest.raises(NotFound):
        await stage(CALL, nxt)  # type: ignore[arg-type]
    assert calls[0] == 1


async def test_breaker_trips_on_async_failures_and_then_fails_fast_without_calling() -> None:
    clock = FakeClock()
    stage = BreakerStage(BreakerPolicy(threshold=3, open_s=30, probes=1), clock)
    nxt, calls = scripted(clock, [unavailable()])
    for _ in range(3):
        with pytest.raises(EngineUnavailable):
            await stage(CALL, nxt)  # type: ignore[arg-type]
    assert stage.state("prod").mode == "open" and calls[0] == 3
    with pytest.raises(EngineUnavailable, match="circuit breaker is open") as err:
        await stage(CALL, nxt)  # type: ignore[arg-type]
    assert calls[0] == 3 and "in 30 s" in str(err.value)
    clock.advance(30)
    good, good_calls = scripted(clock, ["ok"])
    await stage(CALL, good)  # type: ignore[arg-type]  # the half-open probe succeeds
    assert stage.state("prod").mode == "closed" and good_calls[0] == 1


async def test_not_found_is_an_answer_not_a_breaker_failure() -> None:
    clock = FakeClock()
    stage = BreakerStage(BreakerPolicy(threshold=1), clock)
    nxt, _ = scripted(clock, [NotFound("no such job")])
    for _ in range(3):
        with pytest.raises(NotFound):
            await stage(CALL, nxt)  # type: ignore[arg-type]
    assert stage.state("prod").mode == "closed"


async def test_bulkhead_bounds_concurrency_and_rejects_beyond_the_queue() -> None:
    stage = BulkheadStage(limit=4, queue=6)
    release = anyio.Event()
    peak = [0]
    active = [0]
    outcomes: list[str] = []

    async def slow(call: UpstreamCall) -> Fetched:
        active[0] += 1
        peak[0] = max(peak[0], active[0])
        await release.wait()
        active[0] -= 1
        return Fetched(200, b"", "", FakeClock().now())

    async def one() -> None:
        try:
            await stage(CALL, slow)
            outcomes.append("ok")
        except EngineUnavailable as exc:
            assert "Too many requests" in str(exc)
            outcomes.append("rejected")

    async with anyio.create_task_group() as tg:
        for _ in range(100):
            tg.start_soon(one)
        await anyio.wait_all_tasks_blocked()
        assert stage.in_flight["prod"] == 4 and stage.waiting("prod") == 6
        release.set()
    assert peak[0] == 4
    assert outcomes.count("ok") == 10 and outcomes.count("rejected") == 90


def with_deadline(clock: FakeClock, seconds: float) -> UpstreamCall:
    return replace(CALL, deadline=clock.monotonic() + seconds)


async def test_no_retry_whose_wait_would_pass_the_deadline() -> None:
    clock = FakeClock()
    sleep, slept = passing_sleep(clock)
    stage = RetryStage(RetryPolicy(attempts=5, base_s=0.2, cap_s=1.0), clock, sleep, draw=lambda: 1.0)
    nxt, calls = scripted(clock, [unavailable(), unavailable(), unavailable(), "ok"])
    # 0.5 s left: the first wait (0.2) fits, the second (0.4) would not leave room for an answer.
    with pytest.raises(EngineUnavailable):
        await stage(with_deadline(clock, 0.5), nxt)  # type: ignore[arg-type]
    assert calls[0] == 2 and slept == [0.2]
    # Without a deadline the same script gets its answer on the fourth attempt.
    nxt, calls = scripted(clock, [unavailable(), unavailable(), unavailable(), "ok"])
    assert (await stage(CALL, nxt)).status == 200 and calls[0] == 4  # type: ignore[arg-type]


async def test_a_queued_call_waits_no_longer_than_its_deadline() -> None:
    clock = FakeClock()
    stage = BulkheadStage(limit=1, queue=5, now=clock.monotonic)
    release = anyio.Event()

    async def slow(call: UpstreamCall) -> Fetched:
        await release.wait()
        return Fetched(200, b"", "", FakeClock().now())

    outcome: list[str] = []

    async def queued() -> None:
        call = with_deadline(clock, 30.0)
        clock.advance(30.0)  # the deadline passes while the slot is held: no real wait
        try:
            await stage(call, slow)
            outcome.append("ok")
        except EngineTimeout as exc:
            outcome.append(str(exc))

    async with anyio.create_task_group() as tg:
        tg.start_soon(stage, CALL, slow)  # holds the only slot until released
        await anyio.wait_all_tasks_blocked()
        await queued()
        assert stage.waiting("prod") == 0  # the timed-out caller left the queue
        release.set()
    assert len(outcome) == 1 and "no request slot came free before the deadline" in outcome[0]


async def test_timeouts_open_the_breaker_after_timeout_threshold() -> None:
    clock = FakeClock()
    stage = BreakerStage(BreakerPolicy(threshold=5, open_s=10.0, probes=1, timeout_threshold=2), clock)
    nxt, calls = scripted(clock, [EngineTimeout("timed out")])
    for _ in range(2):
        with pytest.raises(EngineTimeout):
            await stage(CALL, nxt)  # type: ignore[arg-type]
    assert stage.state("prod").mode == "open"
    with pytest.raises(EngineUnavailable, match=r"(?i)breaker|not answering|paused"):
        await stage(CALL, nxt)  # type: ignore[arg-type]
    assert calls[0] == 2
