"""Cross-replica messages over Redis pub/sub: cache invalidations and breaker openings.

A replica that loses the channel cannot know what it missed, so it flushes its L1 and
resubscribes after a jittered wait. While it is down the cache keeps entries fresh only
briefly (``cache.bus_down_ttl_s``), and once it is back the L1 is flushed again: what was
cached during the outage may predate another replica's write that was never announced.
"""

from __future__ import annotations

import contextlib
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger("resync_mcp.cache.bus")
Sleep = Callable[[float], Awaitable[None]]


class Bus:
    def __init__(
        self,
        redis: Redis,
        *,
        channel: str = "resync:events",
        on_invalidate: Callable[[str, list[str]], object],
        on_breaker_open: Callable[[str, float], None],
        on_lost: Callable[[], None],
        sleep: Sleep | None = None,
        draw: Callable[[], float] | None = None,
        publish_timeout_s: float = 0.1,
    ) -> None:
        self.redis = redis
        self.channel = channel
        self.instance = uuid.uuid4().hex
        self._on_invalidate = on_invalidate
        self._on_breaker_open = on_breaker_open
        self._on_lost = on_lost
        self._sleep = sleep or anyio.sleep
        self._draw = draw or random.random
        self._timeout = publish_timeout_s
        self.subscribed = anyio.Event()
        self.message_applied = anyio.Event()  # set once a message from another replica was applied
        self.lost = anyio.Event()  # set once the channel was lost (and the L1 flushed)
        self.received = 0
        self.losses = 0

    @property
    def up(self) -> bool:
        """Subscribed: invalidations from other replicas reach this one."""
        return self.subscribed.is_set()

    async def _publish(self, message: dict[str, Any]) -> bool:
        try:
            with anyio.fail_after(self._timeout):
                await self.redis.publish(self.channel, json.dumps({**message, "origin": self.instance}))
            return True
        except (RedisError, OSError, TimeoutError):
            return False

    async def publish_invalidate(self, engine: str, ids: list[str]) -> bool:
        return await self._publish({"type": "invalidate", "engine": engine, "ids": ids})

    async def publish_breaker_open(self, engine: str, open_for_s: float) -> bool:
        return await self._publish({"type": "breaker_open", "engine": engine, "open_for_s": open_for_s})

    def _apply(self, raw: Any) -> None:
        try:
            msg = json.loads(raw)
            if msg.get("origin") == self.instance:
                return
            if msg["type"] == "invalidate":
                self._on_invalidate(str(msg["engine"]), [str(i) for i in msg["ids"]])
            elif msg["type"] == "breaker_open":
                self._on_breaker_open(str(msg["engine"]), float(msg["open_for_s"]))
            self.received += 1
            self.message_applied.set()
        except (ValueError, KeyError, TypeError):
            log.warning("bus_message_ignored")

    async def run(self) -> None:
        """Listen until cancelled; on a lost connection flush, wait (jittered), resubscribe."""
        attempt = 0
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                if self.losses:
                    self._on_lost()  # entries cached during the outage may have missed a write
                self.subscribed.set()
                attempt = 0
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._apply(message["data"])
            except (RedisError, OSError) as exc:
                self.losses += 1
                self.subscribed = anyio.Event()
                self._on_lost()
                self.lost.set()
                log.warning("bus_lost", error=type(exc).__name__)
            finally:
                with anyio.CancelScope(shield=True), contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
            attempt += 1
            await self._sleep(self._draw() * min(5.0, 0.1 * 2**attempt))
