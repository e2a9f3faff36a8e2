"""Cache stage: single-flight, leader failure and cancellation, SWR, stale-if-error,
max_stale, negative caching, invalidation, scope isolation, bounds."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest

from resync_mcp.cache.l1 import L1, Entry
from resync_mcp.cache.policy import Ttls, cache_key, data_class
from resync_mcp.cache.stage import CacheStage
from resync_mcp.clock import FakeClock
from resync_mcp.errors import EngineUnavailable, NotFound
from resync_mcp.tws.upstream import Fetched, UpstreamCall

pytestmark = pytest.mark.anyio
JOB = "6d19eaf1-c9da-3799-96ed-131f07832a01"
STREAM = "7d19eaf1-c9da-3799-96ed-131f07832a02"


def job_call(scope: str = "local", job: str = JOB) -> UpstreamCall:
    return UpstreamCall(
        engine="prod",
        path=f"/plan/job/{job}",
        params=(),
        headers=(),
        what="reading job",
        kind="job",
        object_id=job,
        scope=scope,
    )


LIST = UpstreamCall(engine="prod", path="/plan/job", params=(("limit", "5"),), headers=(), what="q", kind="query")


class Upstream:
    """A fake `next`: counts calls, can block, fail, or answer a given job status."""

    def __init__(self, clock: FakeClock, status: str = "EXEC") -> None:
        self.clock = clock
        self.calls = 0
        self.status = status
        self.fail: BaseException | None = None
        self.gate: asyncio.Event | None = None

    async def __call__(self, call: UpstreamCall) -> Fetched:
        self.calls += 1
        status = self.status  # the engine's state when the request arrived
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        body = {
            "id": call.object_id or "x",
            "jobStreamId": STREAM,
            "lastRunCompositeStatus": {"status": status},
            "n": self.calls,
        }
        if call.kind == "query":
            body = {"count": 1, "results": [{"id": JOB}]}
        return Fetched(200, json.dumps(body).encode(), "application/json", self.clock.now())


def make(clock: FakeClock, **ttl: float) -> CacheStage:
    return CacheStage(Ttls(**ttl), clock, max_entries=1000, max_bytes=1_000_000)


async def test_hundred_concurrent_identical_misses_make_one_upstream_call() -> None:
    clock = FakeClock()
    cache, up = make(clock), Upstream(clock)
    up.gate = asyncio.Event()
    tasks = [asyncio.create_task(cache(job_call(), up)) for _ in range(100)]
    await asyncio.sleep(0)
    up.gate.set()
    results = await asyncio.gather(*tasks)
    assert up.calls == 1 and len({r.content for r in results}) == 1


async def test_failed_leader_gives_followers_its_error_and_caches_nothing() -> None:
    clock = FakeClock()
    cache, up = make(clock), Upstream(clock)
    up.gate, up.fail = asyncio.Event(), EngineUnavailable("down")
    tasks = [asyncio.create_task(cache(job_call(), up)) for _ in range(10)]
    await asyncio.sleep(0)
    up.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert up.calls == 1 and all(isinstance(r, EngineUnavailable) for r in results)
    up.fail = None
    assert (await cache(job_call(), up)).source == "upstream" and up.calls == 2


async def test_cancelled_leader_does_not_poison_followers() -> None:
    clock = FakeClock()
    cache, up = make(clock), Upstream(clock)
    up.gate = asyncio.Event()
    leader = asyncio.create_task(cache(job_call(), up))
    await asyncio.sleep(0)
    follower = asyncio.create_task(cache(job_call(), up))
    await asyncio.sleep(0)
    leader.cancel()
    await asyncio.sleep(0)
    up.gate.set()
    fetched = await follower
    assert fetched.status == 200 and up.calls == 2
    assert (await cache(job_call(), up)).source == "l1"


async def test_running_job_expires_fast_finished_job_lives_long() -> None:
    clock = FakeClock()
    cache = make(clock, running_s=5, finished_s=300, swr_s=0, max_stale_s=0)
    running, finished = Upstream(clock, "EXEC"), Upstream(clock, "SUCC")
    await cache(job_call(job=JOB), running)
    await cache(job_call(job=STREAM), finished)
    clock.advance(6)
    await cache(job_call(job=JOB), running)
    await cache(job_call(job=STREAM), finished)
    assert running.calls == 2 and finished.calls == 1


async def test_stale_while_revalidate_marks_and_refreshes() -> None:
    clock = FakeClock()
    cache, up = make(clock, running_s=5, swr_s=10), Upstream(clock)
    first = await cache(job_call(), up)
    clock.advance(7)
    stale = await cache(job_call(), up)
    assert stale.stale and stale.as_of == first.as_of and stale.content == first.content
    await cache.drain()
    fresh = await cache(job_call(), up)
    assert not fresh.stale and up.calls == 2 and fresh.as_of > first.as_of


async def test_stale_if_error_within_max_stale_then_an_explicit_error() -> None:
    clock = FakeClock()
    cache, up = make(clock, running_s=5, swr_s=0, max_stale_s=60), Upstream(clock)
    first = await cache(job_call(), up)
    up.fail = EngineUnavailable("engine down")
    clock.advance(30)
    served = await cache(job_call(), up)
    assert served.stale and served.as_of == first.as_of
    clock.advance(60)  # now past expiry + max_stale
    with pytest.raises(EngineUnavailable):
        await cache(job_call(), up)


async def test_not_found_is_cached_and_cleared_when_the_object_appears() -> None:
    clock = FakeClock()
    cache, up = make(clock, not_found_s=30), Upstream(clock)
    up.fail = NotFound("No job with the provided ID was found in the plan.")
    for _ in range(3):
        with pytest.raises(NotFound, match="No job with the provided ID"):
            await cache(job_call(), up)
    assert up.calls == 1
    up.fail = None
    await cache(LIST, up)  # the listing contains JOB: it exists now
    assert (await cache(job_call(), up)).status == 200 and up.calls == 3


async def test_invalidation_drops_the_object_its_stream_and_listings() -> None:
    clock = FakeClock()
    cache, up = make(clock, finished_s=300), Upstream(clock, "SUCC")
    await cache(job_call(), up)
    await cache(LIST, up)
    dropped = await cache.invalidate("prod", [STREAM])  # naming the job stream drops the job too
    assert dropped == 2
    await cache(job_call(), up)
    await cache(LIST, up)
    assert up.calls == 4


async def test_scopes_never_share_entries() -> None:
    clock = FakeClock()
    cache, up = make(clock), Upstream(clock)
    await cache(job_call(scope="alice"), up)
    await cache(job_call(scope="bob"), up)
    assert up.calls == 2 and cache_key(job_call(scope="alice")) != cache_key(job_call(scope="bob"))


async def test_writes_pass_straight_through() -> None:
    clock = FakeClock()
    cache, up = make(clock), Upstream(clock)
    write = UpstreamCall(engine="prod", path="/x", params=(), headers=(), what="w", kind="action", idempotent=False)
    await cache(write, up)
    await cache(write, up)
    assert up.calls == 2


def test_l1_is_bounded_by_entries_and_bytes() -> None:
    l1 = L1(max_entries=3, max_bytes=1000)
    for i in range(5):
        l1.put(f"k{i}", Entry(None, "x", "not_found", 1, 1, {f"t{i}"}, 100))
    assert len(l1) == 3 and l1.get("k0") is None and l1.get("k4") is not None
    l1.put("big", Entry(None, "x", "not_found", 1, 1, {"tb"}, 950))
    assert l1.bytes <= 1000 and l1.get("big") is not None
    assert l1.drop_tags({"t0", "t1"}) == 0  # evicted entries left no dead tags behind


def test_l1_evicts_the_least_recently_used_and_keeps_its_byte_count() -> None:
    l1 = L1(max_entries=3, max_bytes=1000)
    for i in range(3):
        l1.put(f"k{i}", Entry(None, "x", "not_found", 1, 1, {f"t{i}"}, 100))
    assert l1.get("k0") is not None  # used: k1 is now the least recently used
    l1.put("k3", Entry(None, "x", "not_found", 1, 1, {"t3"}, 100))
    assert l1.get("k1") is None and l1.get("k0") is not None and l1.evictions == 1
    assert l1.bytes == 300
    l1.put("k0", Entry(None, "x", "not_found", 1, 1, {"t0"}, 250))  # replaced, not added
    assert len(l1) == 3 and l1.bytes == 450
    l1.drop("k2")
    assert l1.bytes == 350 and l1.evictions == 1  # a drop is not an eviction
    l1.put("k9", Entry(None, "x", "not_found", 1, 1, set(), 700))  # bytes bound: the oldest go
    assert l1.bytes <= 1000 and l1.get("k9") is not None and l1.get("k3") is None
    l1.put("huge", Entry(None, "x", "not_found", 1, 1, set(), 1001))  # larger than the cache
    assert l1.get("huge") is None and l1.get("k9") is not None


def test_data_class_reads_the_job_status_and_log_trailer() -> None:
    assert data_class(job_call(), b'{"lastRunCompositeStatus": {"status": "ABEND"}}') == "job_finished"
    assert data_class(job_call(), b'{"lastRunCompositeStatus": {"status": "EXEC"}}') == "job_running"
    log = UpstreamCall(engine="p", path="/l", params=(), headers=(), what="", kind="joblog")
    assert data_class(log, b"...\n= Exit Status : 0\n") == "log_finished"
    assert data_class(log, b"10:00 still running\n") == "log_running"


@pytest.mark.parametrize("fresh", [False, True], ids=["miss", "fresh"])
async def test_a_read_overtaken_by_a_write_does_not_put_the_old_state_back(fresh: bool) -> None:
    clock = FakeClock()
    cache, up = make(clock), Upstream(clock, status="HOLD")
    up.gate = asyncio.Event()
    call = replace(job_call(), fresh=fresh)
    in_flight = asyncio.create_task(cache(call, up))  # reads the job while it is still HOLD ...
    await asyncio.sleep(0)
    up.status = "READY"  # ... the write releases it and invalidates, before that read answers
    await cache.invalidate("prod", [JOB])
    up.gate.set()
    old = await in_flight
    assert b'"HOLD"' in old.content  # the caller still gets its answer ...
    up.gate = None
    after = await cache(job_call(), up)  # ... but it was not cached: the next read asks the engine
    assert after.source == "upstream" and b'"READY"' in after.content and up.calls == 2
