"""Per-principal rate limits by toolset, on the injected clock."""

from __future__ import annotations

import uuid

import pytest
from mcp import Client

from resync_mcp.app import build_app
from resync_mcp.clock import FakeClock
from resync_mcp.config import Settings
from resync_mcp.errors import NotAllowed
from resync_mcp.security.policy import Principal, principal_var
from resync_mcp.security.ratelimit import RateLimited, RedisRateLimits, take
from resync_mcp.server.pipeline import AuthorizeStage, ToolCall
from resync_mcp.simulator import Simulator
from tests.conftest import call, error_text

pytestmark = pytest.mark.anyio


def test_a_bucket_allows_a_tenth_of_a_minute_at_once_then_refills() -> None:
    bucket, waits = None, []
    for _ in range(7):
        bucket, wait = take(bucket, 100.0, 60)
        waits.append(wait)
    assert waits[:6] == [0.0] * 6 and waits[6] == pytest.approx(1.0)  # capacity 6, one a second
    bucket, wait = take(bucket, 101.0, 60)
    assert wait == 0.0


async def test_an_exceeded_limit_is_an_error_saying_when_to_retry(
    settings: Settings, clock: FakeClock, sim: Simulator
) -> None:
    limited = settings.model_copy(
        update={"security": settings.security.model_copy(update={"rate_per_minute": {"read": 60, "operate": 6}})}
    )
    app = build_app(limited, clock=clock, simulator=sim)
    async with Client(app.server) as mcp:
        for _ in range(8):
            await call(mcp, "plan_summary", {})  # the machine's own user (stdio) is not limited
        token = principal_var.set(Principal("svc-dashboard", frozenset({"viewer"}), via="static"))
        try:
            for _ in range(6):
                await call(mcp, "plan_summary", {})
            text = await error_text(mcp, "plan_summary", {})
            assert "at most 60 a minute" in text and "Retry in 1 s" in text
            clock.advance(1.0)
            await call(mcp, "plan_summary", {})  # refilled
        finally:
            principal_var.reset(token)


async def test_limits_are_per_principal_and_toolset(settings: Settings, clock: FakeClock, sim: Simulator) -> None:
    limited = settings.model_copy(
        update={"security": settings.security.model_copy(update={"rate_per_minute": {"read": 10, "operate": 0}})}
    )
    app = build_app(limited, clock=clock, simulator=sim)
    authorize = next(s for s in app.pipeline.stages if isinstance(s, AuthorizeStage))

    async def ok(call: ToolCall) -> str:
        return "ran"

    async def as_(who: Principal, tool: str) -> str:
        token = principal_var.set(who)
        try:
            return str(await authorize(ToolCall(tool, {}, None), ok))
        finally:
            principal_var.reset(token)

    alice = Principal("alice", frozenset({"operator"}), via="oauth", issuer="https://id")
    bob = Principal("bob", frozenset({"operator"}), via="oauth", issuer="https://id")
    assert await as_(alice, "find_jobs") == "ran"  # a bucket of 1 (a tenth of 10, at least one)
    with pytest.raises(RateLimited):
        await as_(alice, "find_jobs")
    assert await as_(bob, "find_jobs") == "ran"  # another principal: its own bucket
    for _ in range(20):
        assert await as_(alice, "hold_job") == "ran"  # operate: 0 means no limit
    with pytest.raises(NotAllowed):
        await as_(Principal("eve", frozenset()), "find_jobs")  # refused before any bucket is spent
    assert authorize.limits is not None and authorize.limits.rejected == 1


async def test_replicas_share_their_buckets_through_redis(redis_url: str) -> None:
    from redis.asyncio import Redis

    wall = [1_000.0]
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    one, two = Redis.from_url(redis_url), Redis.from_url(redis_url)
    a = RedisRateLimits({"read": 30}, lambda: 0.0, one, wall=lambda: wall[0], prefix=prefix, timeout_s=2)
    b = RedisRateLimits({"read": 30}, lambda: 0.0, two, wall=lambda: wall[0], prefix=prefix, timeout_s=2)
    alice = Principal("alice", frozenset({"viewer"}), via="oauth", issuer="https://id")
    for replica in (a, b, a):  # a bucket of 3, spent on two replicas
        await replica.check(alice, "read")
    with pytest.raises(RateLimited):
        await b.check(alice, "read")
    await b.check(Principal("bob", frozenset({"viewer"}), via="oauth", issuer="https://id"), "read")
    wall[0] += 2.0  # half a call a second: one more
    await b.check(alice, "read")
    assert a.fallbacks == b.fallbacks == 0
    await one.aclose()
    await two.aclose()


async def test_an_unreachable_redis_still_limits_in_process() -> None:
    from redis.asyncio import Redis

    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)  # nothing listens on port 1
    limits = RedisRateLimits({"read": 10}, lambda: 0.0, dead, wall=lambda: 0.0, timeout_s=1)
    alice = Principal("alice", frozenset({"viewer"}), via="static")
    await limits.check(alice, "read")
    with pytest.raises(RateLimited):
        await limits.check(alice, "read")
    assert limits.fallbacks == 2
    await dead.aclose()
