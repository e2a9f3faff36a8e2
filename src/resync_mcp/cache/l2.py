"""L2: Redis, shared by replicas. Every operation is bounded by a short timeout and guarded
by a breaker of its own, so a slow or dead Redis costs at most that timeout, then nothing,
until a jittered probe finds it back. Failures are misses, never errors to a client."""

from __future__ import annotations

import base64
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import anyio
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from resync_mcp.cache.codec import Codec, CodecError
from resync_mcp.cache.l1 import Entry
from resync_mcp.clock import Clock
from resync_mcp.resilience import breaker as b
from resync_mcp.tws.upstream import Fetched

log = structlog.get_logger("resync_mcp.cache.l2")
T = TypeVar("T")
TAG_TTL_S = 86_400


class RedisL2:
    def __init__(
        self,
        redis: Redis,
        codec: Codec,
        clock: Clock,
        *,
        prefix: str = "resync:",
        timeout_s: float = 0.05,
        breaker: b.BreakerPolicy | None = None,
        draw: Callable[[], float] | None = None,
    ) -> None:
        self.redis = redis
        self._codec = codec
        self._clock = clock
        self._prefix = prefix
        self._timeout = timeout_s
        self._policy = breaker or b.BreakerPolicy(threshold=3, open_s=5.0, probes=1)
        self._draw = draw or random.random
        self.state = b.BreakerState()
        self.stats = {"hits": 0, "misses": 0, "errors": 0, "decode_errors": 0, "skipped": 0}

    # ------------------------------------------------------------------ guard
    async def _guarded(self, op: Callable[[], Awaitable[T]], default: T) -> T:
        now = self._clock.monotonic()
        verdict, self.state = b.admit(self.state, self._policy, now)
        if not verdict.allowed:
            self.stats["skipped"] += 1
            return default
        try:
            with anyio.fail_after(self._timeout):
                result = await op()
        except (RedisError, OSError, TimeoutError) as exc:
            self.stats["errors"] += 1
            before = self.state.mode
            self.state = b.on_failure(self.state, self._policy, self._clock.monotonic())
            if self.state.mode == "open" and before != "open" and self.state.opened_at is not None:
                # Jitter the reopening so replicas do not all reconnect at the same instant.
                self.state = b.BreakerState("open", self.state.failures, self.state.opened_at + self._draw())
                log.warning("redis_unavailable", error=type(exc).__name__)
            return default
        self.state = b.on_success(self.state, self._policy, self._clock.monotonic())
        return result

    # ------------------------------------------------------------- conversion
    def _to_wall(self, mono: float) -> float:
        return self._clock.now().timestamp() + (mono - self._clock.monotonic())

    def _to_mono(self, wall: float) -> float:
        return self._clock.monotonic() + (wall - self._clock.now().timestamp())

    def _record(self, entry: Entry) -> dict[str, Any]:
        v = entry.value
        return {
            "status": v.status if v else None,
            "content": base64.b64encode(v.content).decode() if v else None,
            "ctype": v.content_type if v else None,
            "as_of": v.as_of.isoformat() if v else None,
            "not_found": entry.not_found,
            "klass": entry.klass,
            "fresh_until": self._to_wall(entry.fresh_until),
            "stale_until": self._to_wall(entry.stale_until),
            "tags": sorted(entry.tags),
        }

    def _entry(self, rec: dict[str, Any]) -> Entry:
        value = None
        if rec.get("content") is not None:
            content = base64.b64decode(rec["content"])
            value = Fetched(
                int(rec["status"]), content, str(rec["ctype"]), datetime.fromisoformat(rec["as_of"]), source="l2"
            )
        return Entry(
            value,
            rec.get("not_found"),
            str(rec["klass"]),
            self._to_mono(float(rec["fresh_until"])),
            self._to_mono(float(rec["stale_until"])),
            set(rec.get("tags") or []),
            len(value.content) if value else 0,
        )

    # -------------------------------------------------------------- operations
    async def get(self, key: str) -> Entry | None:
        blob = await self._guarded(lambda: self.redis.get(self._prefix + key), None)
        if blob is None:
            self.stats["misses"] += 1
            return None
        try:
            raw = blob if isinstance(blob, bytes) else str(blob).encode()
            entry = self._entry(self._codec.decode(raw, key))
        except (CodecError, KeyError, TypeError, ValueError) as exc:
            self.stats["decode_errors"] += 1
            log.warning("l2_value_undecodable", key=key, error=str(exc)[:100])
            return None
        self.stats["hits"] += 1
        return entry

    async def put(self, key: str, entry: Entry) -> None:
        ttl_ms = int(max(1.0, entry.stale_until - self._clock.monotonic()) * 1000)
        blob = self._codec.encode(self._record(entry), key)

        async def op() -> None:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(self._prefix + key, blob, px=ttl_ms)
                for tag in entry.tags:
                    # Tag sets outlive any entry they name; a dead key in one is harmless to DEL.
                    pipe.sadd(self._prefix + "tag:" + tag, key)
                    pipe.expire(self._prefix + "tag:" + tag, TAG_TTL_S)
                await pipe.execute()

        await self._guarded(op, None)

    async def drop_tags(self, tags: set[str]) -> int:
        async def op() -> int:
            keys: set[str] = set()
            for tag in tags:
                members = await self.redis.smembers(self._prefix + "tag:" + tag)
                keys |= {m.decode() if isinstance(m, bytes) else str(m) for m in members}
            names = [self._prefix + k for k in keys] + [self._prefix + "tag:" + t for t in tags]
            if names:
                await self.redis.delete(*names)
            return len(keys)

        return await self._guarded(op, 0)
