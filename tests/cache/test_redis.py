"""L2 on a real Redis: sharing, encryption, corrupt values, invalidation and breaker
sharing across replicas, and Redis dying mid-run."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client
from redis.asyncio import Redis

from resync_mcp.app import build_app
from resync_mcp.cache.bus import Bus
from resync_mcp.cache.codec import Codec
from resync_mcp.cache.l2 import RedisL2
from resync_mcp.cache.policy import Ttls, cache_key
from resync_mcp.cache.stage import CacheStage
from resync_mcp.clock import FakeClock
from resync_mcp.config import Settings
from resync_mcp.resilience.breaker import BreakerPolicy
from resync_mcp.resilience.stages import BreakerStage
from resync_mcp.simulator import Simulator
from tests.cache.test_cache_stage import JOB, STREAM, Upstream, job_call
from tests.conftest import call
from tests.redis_fixtures import redis_process

pytestmark = pytest.mark.anyio


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def replica(redis: Redis, clock: FakeClock, prefix: str, key: bytes | None = None) -> CacheStage:
    """One server replica's cache: its own L1, the shared L2 under ``prefix``."""
    l2 = RedisL2(redis, Codec(key), clock, prefix=prefix, timeout_s=0.5)
    return CacheStage(Ttls(), clock, max_entries=100, max_bytes=1_000_000, l2=l2)


def cache_bus(cache: CacheStage, redis: Redis, prefix: str) -> Bus:
    """The invalidation bus of one replica's cache."""
    return Bus(
        redis,
        channel=prefix + "events",
        on_invalidate=cache.invalidate_local,
        on_breaker_open=lambda e, s: None,
        on_lost=cache.flush_local,
    )


def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}:"


async def test_a_second_replica_is_served_from_l2(redis: Redis) -> None:
    clock, p = FakeClock(), prefix()
    a, b = replica(redis, clock, p), replica(redis, clock, p)
    up = Upstream(clock, "SUCC")
    first = await a(job_call(), up)
    second = await b(job_call(), up)
    assert up.calls == 1 and second.source == "l2" and second.content == first.content
    assert second.as_of == first.as_of


async def test_values_are_encrypted_when_keyed_and_a_wrong_key_is_a_miss(redis: Redis) -> None:
    clock, p = FakeClock(), prefix()
    key = os.urandom(32)
    a = replica(redis, clock, p, key)
    up = Upstream(clock, "SUCC")
    await a(job_call(), up)
    raw = await redis.get(p + cache_key(job_call()))
    assert raw is not None and raw[:2] == b"E1" and STREAM.encode() not in raw
    other = replica(redis, clock, p, os.urandom(32))
    await other(job_call(), up)
    assert up.calls == 2 and other.l2 is not None and other.l2.stats["decode_errors"] == 1


async def test_corrupt_values_are_misses_not_errors(redis: Redis) -> None:
    clock, p = FakeClock(), prefix()
    a = replica(redis, clock, p)
    await redis.set(p + cache_key(job_call()), b"J1{not json")
    up = Upstream(clock, "SUCC")
    fetched = await a(job_call(), up)
    assert fetched.status == 200 and up.calls == 1
    assert a.l2 is not None and a.l2.stats["decode_errors"] == 1


async def test_invalidation_reaches_l2_and_the_other_replica(redis_url: str, redis: Redis) -> None:
    clock, p = FakeClock(), prefix()
    a, b = replica(redis, clock, p), replica(redis, clock, p)
    other = Redis.from_url(redis_url)  # a replica has its own connection
    bus_b = cache_bus(b, other, p)
    a.bus = cache_bus(a, redis, p)
    listener = asyncio.create_task(bus_b.run())
    try:
        await asyncio.wait_for(bus_b.subscribed.wait(), 10)
        up = Upstream(clock, "SUCC")
        await a(job_call(), up)
        await b(job_call(), up)  # b now holds it in its L1 (from L2)
        assert up.calls == 1
        await a.invalidate("prod", [JOB])
        await asyncio.wait_for(bus_b.message_applied.wait(), 10)
        assert await redis.get(p + cache_key(job_call())) is None
        await b(job_call(), up)
        assert up.calls == 2  # neither b's L1 nor L2 answered
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await other.aclose()


async def test_a_breaker_opened_on_one_replica_opens_on_the_others(redis_url: str, redis: Redis) -> None:
    clock, p = FakeClock(), prefix()
    policy = BreakerPolicy(threshold=2, open_s=30)
    a, b = BreakerStage(policy, clock), BreakerStage(policy, clock)
    other = Redis.from_url(redis_url)
    bus_a = Bus(
        redis, channel=p + "events", on_invalidate=lambda e, i: None, on_breaker_open=a.force_open, on_lost=lambda: None
    )
    bus_b = Bus(
        other, channel=p + "events", on_invalidate=lambda e, i: None, on_breaker_open=b.force_open, on_lost=lambda: None
    )
    a.on_open = bus_a.publish_breaker_open
    listener = asyncio.create_task(bus_b.run())
    try:
        await asyncio.wait_for(bus_b.subscribed.wait(), 10)
        from resync_mcp.errors import EngineUnavailable

        async def failing(call: object) -> object:
            raise EngineUnavailable("down")

        for _ in range(2):
            with pytest.raises(EngineUnavailable):
                await a(job_call(), failing)  # type: ignore[arg-type]
        await asyncio.wait_for(bus_b.message_applied.wait(), 10)
        assert b.state("prod").mode == "open"
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await other.aclose()


async def test_redis_killed_mid_run_costs_a_bounded_wait_then_nothing() -> None:
    clock = FakeClock()
    with redis_process() as (url, proc):
        redis = Redis.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2)
        l2 = RedisL2(redis, Codec(), clock, prefix="k:", timeout_s=0.2, breaker=BreakerPolicy(2, 60, 1))
        cache = CacheStage(Ttls(), clock, max_entries=100, max_bytes=1_000_000, l2=l2)
        lost = []
        bus = Bus(
            Redis.from_url(url),
            channel="k:events",
            on_invalidate=lambda e, i: None,
            on_breaker_open=lambda e, s: None,
            on_lost=lambda: lost.append(1),
            sleep=lambda s: asyncio.sleep(0),
        )
        listener = asyncio.create_task(bus.run())
        await asyncio.wait_for(bus.subscribed.wait(), 10)
        up = Upstream(clock, "SUCC")
        await cache(job_call(), up)
        proc.kill()
        proc.wait(timeout=10)
        for i in range(5):  # different keys: each needs L2, then upstream
            loop = asyncio.get_running_loop()
            t = loop.time()
            fetched = await cache(job_call(job=f"{i:08d}-0000-4000-8000-000000000000"), up)
            assert fetched.status == 200
            assert loop.time() - t < 2.0  # bounded by the Redis timeout, then skipped
        assert l2.state.mode == "open" and l2.stats["skipped"] >= 1
        await asyncio.wait_for(bus.lost.wait(), 10)
        assert lost
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await redis.aclose()


def test_records_are_json_never_pickle() -> None:
    blob = Codec().encode({"a": 1}, "k")
    assert blob.startswith(b"J1") and json.loads(blob[2:]) == {"a": 1}


async def test_health_shows_the_redis_breaker_and_tools_keep_answering_without_redis(settings: Settings) -> None:
    clock = FakeClock()
    sim = Simulator.create(3, 60, clock)
    sim.state()
    ids = [j.id for j in sim.plan.jobs]
    with redis_process() as (url, proc):
        with_redis = settings.model_copy(
            update={"cache": settings.cache.model_copy(update={"redis_url": url, "redis_timeout_ms": 200})}
        )
        app = build_app(with_redis, clock=clock, simulator=sim)
        await app.start()
        assert app.upstream.bus is not None
        await asyncio.wait_for(app.upstream.bus.subscribed.wait(), 10)
        try:
            async with Client(app.server) as mcp:
                await call(mcp, "get_job", {"job": ids[0]})
                healthy = await call(mcp, "server_health", {})
                assert healthy["status"] == "ok" and healthy["redis"]["breaker"] == "closed"
                assert healthy["redis"]["bus_subscribed"] is True and healthy["redis"]["misses"] >= 1
                proc.kill()
                proc.wait(timeout=10)
                for job in ids[1:6]:  # each still answered: L1 and the engine carry on
                    assert (await call(mcp, "get_job", {"job": job}))["job"]["id"] == job
                degraded = await call(mcp, "server_health", {})
                assert degraded["status"] == "degraded" and degraded["redis"]["breaker"] == "open"
                assert degraded["redis"]["errors"] >= 1 and degraded["engines"][0]["breaker"] == "closed"
        finally:
            await app.aclose()


async def test_health_has_no_redis_section_without_redis(settings: Settings, clock: FakeClock) -> None:
    app = build_app(settings, clock=clock, simulator=Simulator.create(3, 30, clock))
    async with Client(app.server) as mcp:
        assert (await call(mcp, "server_health", {}))["redis"] is None
    await app.aclose()


async def test_invalidation_crosses_processes(redis_url: str, redis: Redis) -> None:
    """The other replica is another OS process: only Redis connects the two."""
    clock, p = FakeClock(), prefix()
    here = replica(redis, clock, p)
    here.bus = cache_bus(here, redis, p)
    # Blocking pipe reads are fine here: nothing else runs on this loop while the replica answers.
    proc = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "tests.cache.replica_proc", redis_url, p],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert proc.stdin is not None and proc.stdout is not None

    def ask(command: str) -> str:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(command + "\n")
        proc.stdin.flush()
        return proc.stdout.readline().strip()  # blocks until the replica answers

    try:
        assert proc.stdout.readline().strip() == "ready"
        assert ask("read") == "1"  # the other process caches the job in its L1 (and L2)
        assert ask("read") == "1"  # served from its L1
        await here.invalidate("prod", [JOB])  # what a write tool does here
        assert await redis.get(p + cache_key(job_call())) is None  # L2 entry gone
        assert ask("applied") == "applied"
        assert ask("read") == "2"  # its L1 entry is gone too: it asked the engine again
    finally:
        proc.stdin.close()  # ends its command loop; kill it if it is stuck waiting instead
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
