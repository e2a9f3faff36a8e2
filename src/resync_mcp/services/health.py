"""What the server knows about its own health and the engines': breakers, cache, latency."""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from resync_mcp.audit.log import AuditLog
from resync_mcp.cache.stage import CacheStage
from resync_mcp.clock import Clock, iso
from resync_mcp.resilience.stages import BreakerStage, BulkheadStage, RetryStage
from resync_mcp.services.engines import EngineRegistry
from resync_mcp.services.views import AuditHealth, EngineHealth, HealthResult, RedisHealth

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from resync_mcp.cache.bus import Bus


class Stages(Protocol):
    redis: Redis | None
    cache: CacheStage | None
    breaker: BreakerStage
    retry: RetryStage
    bulkhead: BulkheadStage
    bus: Bus | None


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 2)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1], 2)


class HealthService:
    def __init__(self, engines: EngineRegistry, stages: Stages, clock: Clock, audit: AuditLog | None = None) -> None:
        self._audit = audit
        self._engines = engines
        self._s = stages
        self._clock = clock

    async def readiness(self) -> dict[str, Any]:
        """Whether this replica should get traffic, and why not: an engine's breaker open, the
        audit not writable, or Redis configured and not answering (writes would be refused)."""
        problems: dict[str, str] = {}
        for name in self._engines.names:
            if self._s.breaker.state(name).mode == "open":
                problems[f"engine:{name}"] = "circuit breaker open: the engine is failing"
        if self._audit is not None and not self._audit.store.healthy:
            problems["audit"] = "the audit chain cannot be written"
        if self._s.redis is not None:
            from redis.exceptions import RedisError  # imported only when Redis is configured

            try:
                with anyio.fail_after(1.0):
                    await self._s.redis.ping()
            except (RedisError, OSError, TimeoutError):
                problems["redis"] = "Redis does not answer: writes are refused"
        return {"ready": not problems, "problems": problems, "as_of": iso(self._clock.now())}

    def report(self) -> HealthResult:
        now = self._clock.monotonic()
        rows = []
        sizes = self._s.cache.sizes() if self._s.cache else {}
        for name in self._engines.names:
            client = self._engines.get(name)
            state = self._s.breaker.state(name)
            nxt = None
            if state.mode == "open" and state.opened_at is not None:
                nxt = max(0.0, state.opened_at + self._s.breaker.policy.open_s - now)
            lat = list(client.latencies_ms)
            size = sizes.get(name, {})
            rows.append(
                EngineHealth(
                    engine=name,
                    breaker=state.mode,
                    consecutive_failures=state.failures,
                    next_probe_in_s=nxt,
                    upstream_requests=client.requests_made,
                    upstream_p50_ms=_pct(lat, 50),
                    upstream_p95_ms=_pct(lat, 95),
                    in_flight=self._s.bulkhead.in_flight.get(name, 0),
                    queued=self._s.bulkhead.waiting(name),
                    cache_entries=size.get("entries", 0),
                    cache_bytes=size.get("bytes", 0),
                )
            )
        stats = {k: dict(v) for k, v in self._s.cache.stats.items()} if self._s.cache else {}
        redis = None
        l2 = self._s.cache.l2 if self._s.cache else None
        if l2 is not None:
            bus = self._s.bus
            redis = RedisHealth(
                breaker=l2.state.mode,
                **l2.stats,
                bus_subscribed=bus is not None and bus.subscribed.is_set(),
                bus_losses=bus.losses if bus is not None else 0,
            )
        audit = None
        if self._audit is not None:
            st = self._audit.store.status()
            audit = AuditHealth(
                healthy=st["healthy"],
                records=st["records"],
                pending=st["pending"],
                dropped=st["dropped"],
                unrecorded_calls=self._audit.unrecorded,
                last_checkpoint_seq=st["last_checkpoint_seq"],
                key_epoch=st["key_epoch"],
                last_error=st["last_error"],
                chain_damaged_at=st["chain_damaged_at"],
            )
        closed = all(r.breaker == "closed" for r in rows) and (redis is None or redis.breaker == "closed")
        ok = closed and (audit is None or (audit.healthy and audit.chain_damaged_at is None))
        return HealthResult(
            as_of=self._clock.now(),
            status="ok" if ok else "degraded",
            engines=rows,
            audit=audit,
            redis=redis,
            cache_enabled=self._s.cache is not None,
            cache_by_class=stats,
            retries=self._s.retry.retries,
            breaker_rejections=self._s.breaker.rejected,
            bulkhead_rejections=self._s.bulkhead.rejected,
        )
