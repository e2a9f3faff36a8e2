"""The cache stage: L1 lookups, single-flight, stale-while-revalidate, stale-if-error,
negative caching and invalidation, around each idempotent HWA read.

    fresh                          -> served from L1
    expired, within swr_s          -> served stale (marked), refreshed in the background
    expired, within max_stale_s    -> upstream; if the engine is unavailable, served stale
    older                          -> dropped; the upstream error reaches the caller
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import structlog

from resync_mcp.cache import policy
from resync_mcp.cache.l1 import L1, Entry
from resync_mcp.clock import Clock
from resync_mcp.errors import EngineUnavailable, NotFound
from resync_mcp.tws.upstream import Fetch, Fetched, UpstreamCall

log = structlog.get_logger("resync_mcp.cache")

if TYPE_CHECKING:  # Redis is imported only when it is configured (start-up time)
    from resync_mcp.cache.bus import Bus
    from resync_mcp.cache.l2 import RedisL2


class _LeaderCancelled(Exception):
    """The single-flight leader was cancelled; followers must try again themselves."""


class CacheStage:
    def __init__(
        self,
        ttls: policy.Ttls,
        clock: Clock,
        *,
        max_entries: int,
        max_bytes: int,
        l2: RedisL2 | None = None,
        bus: Bus | None = None,
    ) -> None:
        self.ttls = ttls
        self.l2 = l2
        self.bus = bus
        self._clock = clock
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._l1: dict[str, L1] = {}
        self._inflight: dict[str, asyncio.Future[Fetched]] = {}
        self._refreshing: set[asyncio.Task[None]] = set()
        self._generations: dict[str, int] = {}  # per engine, bumped by every invalidation
        self.bus_down_ttl_s = 3.0
        self.stats: dict[str, Counter[str]] = {}

    # ------------------------------------------------------------------ helpers
    def l1(self, engine: str) -> L1:
        l1 = self._l1.get(engine)
        if l1 is None:  # not setdefault: that would build a throwaway L1 on every call
            l1 = self._l1[engine] = L1(self._max_entries, self._max_bytes)
        return l1

    def _count(self, klass: str, what: str) -> None:
        counts = self.stats.get(klass)
        if counts is None:  # not setdefault: that builds a Counter on every call
            counts = self.stats[klass] = Counter()
        counts[what] += 1

    def _store(self, call: UpstreamCall, key: str, fetched: Fetched | None, not_found: str | None) -> Entry:
        now = self._clock.monotonic()
        content = fetched.content if fetched is not None else b""
        klass = "not_found" if fetched is None else policy.data_class(call, content)
        ttl = policy.ttl(klass, self.ttls)
        if self.bus is not None and not self.bus.up:
            ttl = min(ttl, self.bus_down_ttl_s)  # cross-replica freshness cannot be promised now
        stale_for = 0.0 if fetched is None else self.ttls.max_stale_s
        entry = Entry(
            fetched,
            not_found,
            klass,
            now + ttl,
            now + ttl + stale_for,
            policy.tags(call, content),
            len(content) + len(key) + 200,
        )
        if fetched is None and call.object_id:
            entry.tags.add(f"neg:{call.engine}:{call.object_id}")
        l1 = self.l1(call.engine)
        l1.put(key, entry)
        if fetched is not None and call.kind == "query":
            # An object that appears in a listing exists again: forget that it was missing.
            l1.drop_tags({f"neg:{call.engine}:{i}" for i in policy.ids_in(content)})
        return entry

    def _serve(self, entry: Entry) -> Fetched:
        """A fresh hit, counted; every hit on one entry shares one answer (it is immutable)."""
        assert entry.value is not None
        self._count(entry.klass, "hit")
        served = entry.served
        if served is None:
            source = "l2" if entry.value.source == "l2" else "l1"
            served = entry.served = replace(entry.value, source=source)
        return served

    def fresh_hit(
        self, engine: str, kind: str, scope: str, path: str, params: tuple[Any, ...], headers: tuple[Any, ...]
    ) -> Fetched | None:
        """What this stage would serve for a read with these fields from L1 and nothing else: a
        fresh, positive entry. The client asks before it builds the request; on None the request
        goes through the stage as usual (L2, expiry, stale-while-revalidate, negative entries)."""
        entry = self.l1(engine).get(policy.key_of(engine, kind, scope, path, params, headers))
        if entry is None or entry.value is None or self._clock.monotonic() >= entry.fresh_until:
            return None
        return self._serve(entry)

    # ------------------------------------------------------------------- stage
    async def __call__(self, call: UpstreamCall, next: Fetch) -> Fetched:
        if not call.idempotent:
            return await next(call)
        key = policy.cache_key(call)
        if call.fresh:  # a precondition or a post-write read: the engine's word, then remembered
            generation = self.generation(call.engine)
            fetched = await next(call)
            self._count(call.kind, "fresh")
            # Bulk reads are not remembered (they would only evict what operators ask about), nor is
            # an answer that a write on this engine may have overtaken while it was in flight.
            if call.remember and self.generation(call.engine) == generation:
                stored = self._store(call, key, fetched, None)
                if self.l2 is not None:
                    await self.l2.put(key, stored)
            return fetched
        entry = self.l1(call.engine).get(key)
        if entry is None and self.l2 is not None:
            entry = await self.l2.get(key)
            if entry is not None:
                self.l1(call.engine).put(key, entry)
                self._count(entry.klass, "l2_hit")
        now = self._clock.monotonic()
        if entry is not None and now >= entry.stale_until:
            self.l1(call.engine).drop(key)
            entry = None
        if entry is not None:
            if now < entry.fresh_until:
                if entry.value is None:
                    self._count(entry.klass, "negative_hit")
                    raise NotFound(entry.not_found or "Not found.")
                return self._serve(entry)
            # Stale-while-revalidate needs the bus: without it the refresh may be hiding a write.
            bus_up = self.bus is None or self.bus.up
            if entry.value is not None and bus_up and now < entry.fresh_until + self.ttls.swr_s:
                self._count(entry.klass, "stale")
                self._revalidate(call, key, next)
                return replace(entry.value, stale=True, source="l1")
        try:
            fetched = await self._single_flight(call, key, next)
        except EngineUnavailable:
            if entry is not None and entry.value is not None:
                self._count(entry.klass, "stale_if_error")
                return replace(entry.value, stale=True, source="l1")
            raise
        return fetched

    async def _single_flight(self, call: UpstreamCall, key: str, next: Fetch) -> Fetched:
        while True:
            leader = self._inflight.get(key)
            if leader is None:
                break
            try:
                result = await asyncio.shield(leader)
            except _LeaderCancelled:
                continue  # the leader went away: one of the followers leads now
            self._count("single_flight", "joined")
            return replace(result, source="l1")
        future: asyncio.Future[Fetched] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        self._count(call.kind, "miss")
        generation = self.generation(call.engine)
        try:
            fetched = await next(call)
        except NotFound as exc:
            self._settle(future, exc)
            self._inflight.pop(key, None)
            if self.generation(call.engine) == generation:
                entry = self._store(call, key, None, exc.message)
                if self.l2 is not None:
                    await self.l2.put(key, entry)
            raise
        except asyncio.CancelledError:
            self._settle(future, _LeaderCancelled())
            raise
        except BaseException as exc:
            self._settle(future, exc)  # followers get the same answer; nothing is cached
            raise
        finally:
            self._inflight.pop(key, None)
        future.set_result(fetched)
        if self.generation(call.engine) != generation:
            # A write invalidated this engine while the read was in flight: its answer may be
            # the state before the write, so it is returned but not cached.
            self._count(call.kind, "not_cached_raced")
            return fetched
        entry = self._store(call, key, fetched, None)
        if self.l2 is not None:
            await self.l2.put(key, entry)
        return fetched

    @staticmethod
    def _settle(future: asyncio.Future[Fetched], exc: BaseException) -> None:
        future.set_exception(exc)
        future.exception()  # mark retrieved: with no follower it must not be reported as lost

    def _revalidate(self, call: UpstreamCall, key: str, next: Fetch) -> None:
        if key in self._inflight:
            return

        async def refresh() -> None:
            try:
                await self._single_flight(call, key, next)
            except Exception as exc:  # a failed refresh leaves the stale entry; logged, never raised
                log.info("cache_refresh_failed", engine=call.engine, kind=call.kind, error=type(exc).__name__)

        task = asyncio.get_running_loop().create_task(refresh())
        self._refreshing.add(task)
        task.add_done_callback(self._refreshing.discard)

    async def drain(self) -> None:
        """Wait for background refreshes (tests and shutdown)."""
        while self._refreshing:
            await asyncio.gather(*list(self._refreshing), return_exceptions=True)

    # ------------------------------------------------------------ invalidation
    @staticmethod
    def _tags(engine: str, object_ids: list[str]) -> set[str]:
        return {f"obj:{engine}:{i}" for i in object_ids} | {f"list:{engine}"}

    def generation(self, engine: str) -> int:
        return self._generations.get(engine, 0)

    def invalidate_local(self, engine: str, object_ids: list[str]) -> int:
        """Drop from this process's L1 only (what a message from another replica asks)."""
        self._generations[engine] = self.generation(engine) + 1  # reads in flight must not re-cache
        return self.l1(engine).drop_tags(self._tags(engine, object_ids))

    async def invalidate(self, engine: str, object_ids: list[str]) -> int:
        """Drop the objects, what is tagged with them (their job stream) and every listing,
        from L1 and L2, and tell the other replicas; done before a write tool returns."""
        dropped = self.invalidate_local(engine, object_ids)
        if self.l2 is not None:
            await self.l2.drop_tags(self._tags(engine, object_ids))
        if self.bus is not None:
            await self.bus.publish_invalidate(engine, object_ids)
        return dropped

    def flush_local(self) -> None:
        """After losing the invalidation channel: this replica may have missed some, so forget all."""
        for engine, l1 in self._l1.items():
            self._generations[engine] = self.generation(engine) + 1
            l1.clear()

    def sizes(self) -> dict[str, dict[str, int]]:
        return {e: {"entries": len(c), "bytes": c.bytes, "evictions": c.evictions} for e, c in self._l1.items()}
