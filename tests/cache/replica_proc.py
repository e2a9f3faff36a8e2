"""A second server replica in its own process, driven line by line over stdin/stdout.

Used by test_redis.py to prove invalidation crosses processes: ``python -m
tests.cache.replica_proc REDIS_URL PREFIX``. Commands: ``read`` (prints the upstream call
count after reading the job), ``applied`` (waits for another replica's invalidation, prints
``applied``). Prints ``ready`` once subscribed.
"""

from __future__ import annotations

import asyncio
import sys

from redis.asyncio import Redis

from resync_mcp.cache.bus import Bus
from resync_mcp.cache.codec import Codec
from resync_mcp.cache.l2 import RedisL2
from resync_mcp.cache.policy import Ttls
from resync_mcp.cache.stage import CacheStage
from resync_mcp.clock import FakeClock
from tests.cache.test_cache_stage import Upstream, job_call


async def main(url: str, prefix: str) -> None:
    clock = FakeClock()
    redis = Redis.from_url(url)
    cache = CacheStage(
        Ttls(), clock, max_entries=100, max_bytes=1_000_000, l2=RedisL2(redis, Codec(), clock, prefix=prefix)
    )
    bus = Bus(
        Redis.from_url(url),
        channel=prefix + "events",
        on_invalidate=cache.invalidate_local,
        on_breaker_open=lambda e, s: None,
        on_lost=cache.flush_local,
    )
    listener = asyncio.create_task(bus.run())
    await bus.subscribed.wait()
    up = Upstream(clock, "SUCC")
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while line := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
        if line == "read":
            await cache(job_call(), up)
            print(up.calls, flush=True)
        elif line == "applied":
            await bus.message_applied.wait()
            print("applied", flush=True)
    listener.cancel()
    await asyncio.gather(listener, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
