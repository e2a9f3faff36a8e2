"""Async stages around each HWA request: breaker -> retry (reads only) -> bulkhead.

Each carries out a pure decision (breaker.py, retry.py) with an injected clock, random
source and sleep, so tests drive them without real time passing.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import timedelta

import anyio

from resync_mcp.clock import Clock, iso
from resync_mcp.errors import EngineTimeout, EngineUnavailable, HwaError
from resync_mcp.notices import notify
from resync_mcp.resilience import breaker as b
from resync_mcp.resilience.retry import RetryBudget, RetryPolicy, delay_before_retry
from resync_mcp.tws.upstream import Fetch, Fetched, UpstreamCall

Sleep = Callable[[float], Awaitable[None]]


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, EngineUnavailable)


class BreakerStage:
    """One breaker per engine. Only transient failures (timeouts, 5xx, 429) count; a 404 is
    an answer from a healthy engine and counts as success."""

    def __init__(self, policy: b.BreakerPolicy, clock: Clock) -> None:
        self.policy = policy
        self._clock = clock
        self.states: dict[str, b.BreakerState] = {}
        self.rejected = 0
        # Set when Redis is configured: tells the other replicas that this engine's breaker opened.
        self.on_open: Callable[[str, float], Awaitable[object]] | None = None

    def state(self, engine: str) -> b.BreakerState:
        return self.states.get(engine, b.BreakerState())

    def force_open(self, engine: str, open_for_s: float) -> None:
        """Adopt another replica's verdict: open now, probe after ``open_for_s``."""
        now = self._clock.monotonic()
        opened_at = now - max(0.0, self.policy.open_s - open_for_s)
        self.states[engine] = b.BreakerState("open", self.policy.threshold, opened_at)

    async def __call__(self, call: UpstreamCall, next: Fetch) -> Fetched:
        now = self._clock.monotonic()
        verdict, self.states[call.engine] = b.admit(self.state(call.engine), self.policy, now)
        if not verdict.allowed:
            self.rejected += 1
            wait = max(0.0, (verdict.retry_at or now) - now)
            when = iso(self._clock.now() + timedelta(seconds=wait))
            raise EngineUnavailable(
                f"HWA engine '{call.engine}' is failing; its circuit breaker is open, so nothing was sent.",
                hint=f"It will be tried again at {when} (in {wait:.0f} s).",
                retry_after=wait,
            )
        try:
            fetched = await next(call)
        except HwaError as exc:
            now = self._clock.monotonic()
            state = self.state(call.engine)
            if _transient(exc):
                new = b.on_failure(state, self.policy, now, timeout=isinstance(exc, EngineTimeout))
                await notify("error", "engine_unreachable", exc.message, engine=call.engine)
            else:
                new = b.on_success(state, self.policy, now)
            self.states[call.engine] = new
            if new.mode == "open" and state.mode != "open":
                await notify(
                    "warning",
                    "breaker_opened",
                    f"HWA engine '{call.engine}' keeps failing; calls to it fail fast for {self.policy.open_s:.0f} s.",
                    engine=call.engine,
                )
                if self.on_open is not None:
                    await self.on_open(call.engine, self.policy.open_s)
            raise
        except BaseException:
            self.states[call.engine] = b.on_abandon(self.state(call.engine))
            raise
        self.states[call.engine] = b.on_success(self.state(call.engine), self.policy, self._clock.monotonic())
        return fetched


class RetryStage:
    """Retries idempotent reads after transient failures; never a write, and never past the
    request's deadline: a retry whose wait would not leave room for an answer is not made."""

    def __init__(
        self, policy: RetryPolicy, clock: Clock, sleep: Sleep | None = None, draw: Callable[[], float] | None = None
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._sleep = sleep or anyio.sleep
        self._draw = draw or random.random
        self._budgets: dict[str, RetryBudget] = {}
        self.retries = 0

    async def __call__(self, call: UpstreamCall, next: Fetch) -> Fetched:
        budget = self._budgets.setdefault(call.engine, RetryBudget(self.policy))
        attempt = 0
        while True:
            budget.record_request(self._clock.monotonic())
            try:
                return await next(call)
            except EngineUnavailable as exc:
                if not call.idempotent:
                    raise
                delay = delay_before_retry(attempt, exc.retry_after, self.policy, self._draw())
                left = call.remaining(self._clock.monotonic())
                if delay is None or (left is not None and delay >= left):
                    raise
                if not budget.try_spend(self._clock.monotonic()):
                    raise
            self.retries += 1
            attempt += 1
            await self._sleep(delay)


class BulkheadStage:
    """At most ``limit`` concurrent upstream requests per engine and ``queue`` waiting;
    beyond that a request fails at once instead of piling onto a struggling engine.

    Admission is counted synchronously, before any await, so the bound is exact even
    though acquiring the semaphore yields.
    """

    def __init__(self, limit: int, queue: int, now: Callable[[], float] | None = None) -> None:
        self.limit = limit
        self.queue = queue
        self._now = now or anyio.current_time
        self._sems: dict[str, anyio.Semaphore] = {}
        self._admitted: dict[str, int] = {}
        self.in_flight: dict[str, int] = {}
        self.rejected = 0

    def waiting(self, engine: str) -> int:
        return self._admitted.get(engine, 0) - self.in_flight.get(engine, 0)

    async def __call__(self, call: UpstreamCall, next: Fetch) -> Fetched:
        engine = call.engine
        admitted = self._admitted.get(engine, 0)
        if admitted >= self.limit + self.queue:
            self.rejected += 1
            raise EngineUnavailable(
                f"Too many requests to HWA engine '{engine}' at once ({self.limit} running, {self.queue} queued); "
                "this one was not sent.",
                hint="Retry in a moment; the server protects the engine from overload.",
            )
        self._admitted[engine] = admitted + 1
        sem = self._sems.setdefault(engine, anyio.Semaphore(self.limit))
        try:
            await self._acquire(sem, call)
            try:
                self.in_flight[engine] = self.in_flight.get(engine, 0) + 1
                try:
                    return await next(call)
                finally:
                    self.in_flight[engine] -= 1
            finally:
                sem.release()
        finally:
            self._admitted[engine] -= 1

    async def _acquire(self, sem: anyio.Semaphore, call: UpstreamCall) -> None:
        """A place in the queue, for no longer than the request's deadline leaves."""
        left = call.remaining(self._now())
        if left is None:
            await sem.acquire()
            return
        with anyio.move_on_after(left):
            await sem.acquire()
            return
        raise EngineTimeout(
            f"HWA engine '{call.engine}' is busy: no request slot came free before the deadline while {call.what}.",
            hint="The engine is slow or overloaded; try again later.",
        )
