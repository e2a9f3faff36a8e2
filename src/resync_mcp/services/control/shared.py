"""Confirmation tokens and idempotency keys in Redis, for a fleet of replicas: a token issued by
one replica is redeemed once on any of them, and a key claimed on one is replayed on every other.

Same contract as the in-process stores (safety.py). Redis's own atomic operations give the
"once": ``SET NX`` claims a key, a Lua script consumes a token. When Redis does not answer, a
write is refused (``Refused``: nothing was sent) rather than risk a duplicate; reads never come
here. Expiry is Redis's (``PX``), so the replicas' clocks need not agree.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import anyio
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from resync_mcp.clock import Clock
from resync_mcp.errors import InvalidArgument, OutcomeUnknown, Refused
from resync_mcp.services.control.safety import AGAIN, KEY_REUSED, may_have_been_sent

T = TypeVar("T")
log = structlog.get_logger("resync_mcp.control")
_DOWN = (RedisError, OSError, TimeoutError)


def _unreachable() -> Refused:
    return Refused(
        "Writes are refused: the shared safety store (Redis, cache.redis_url) does not answer, and "
        "without it a repeated call could reach HWA twice. Nothing was sent.",
        hint="Reads still work. Retry once Redis is back; /readyz shows when it is.",
        retryable=True,
    )


class _Redis:
    def __init__(self, redis: Redis, prefix: str, timeout_s: float) -> None:
        self.redis, self.prefix, self.timeout_s = redis, prefix, timeout_s

    def name(self, kind: str, key: str) -> str:
        return f"{self.prefix}{kind}:{hashlib.sha256(key.encode()).hexdigest()[:40]}"

    async def do(self, op: Awaitable[Any]) -> Any:
        try:
            with anyio.fail_after(self.timeout_s):
                return await op
        except _DOWN as exc:
            log.warning("safety_store_unreachable", error=type(exc).__name__)
            raise _unreachable() from None


# KEYS[1] the token; ARGV[1] the print it must have. Consumed only by its own action.
_REDEEM = """
local v = redis.call('GET', KEYS[1])
if not v then return 'unknown' end
if v == '\\0used' then return 'used' end
if v ~= ARGV[1] then return 'other' end
redis.call('SET', KEYS[1], '\\0used', 'KEEPTTL')
return 'ok'
"""


class RedisConfirmationTokens:
    def __init__(self, redis: Redis, clock: Clock, ttl_s: float, *, prefix: str, timeout_s: float) -> None:
        self._r, self._clock, self.ttl_s = _Redis(redis, prefix, max(timeout_s, 0.5)), clock, ttl_s

    async def issue(self, print_: str) -> tuple[str, float]:
        token = "ct_" + secrets.token_urlsafe(18)
        r = self._r
        await r.do(r.redis.set(r.name("ct", token), print_, px=int(self.ttl_s * 1000)))
        return token, self._clock.monotonic() + self.ttl_s

    async def redeem(self, token: str, print_: str) -> None:
        r = self._r
        answer = await r.do(r.redis.eval(_REDEEM, 1, r.name("ct", token), print_))
        verdict = answer.decode() if isinstance(answer, bytes) else str(answer)
        if verdict == "unknown":
            raise InvalidArgument("The confirmation token is not known (never issued, or expired).", hint=AGAIN)
        if verdict == "used":
            raise InvalidArgument("The confirmation token was already used; each token confirms one call.", hint=AGAIN)
        if verdict == "other":
            raise InvalidArgument(
                "The confirmation token was issued for a different action, object, run, caller, reason or ticket.",
                hint=AGAIN,
            )


def _ended(exc: BaseException) -> str:
    if isinstance(exc, OutcomeUnknown):
        return exc.message
    if not isinstance(exc, Exception):
        return "The first call with this idempotency key was cancelled; its outcome is unknown."
    return f"The first call with this idempotency key ended without a known outcome ({exc})."


class RedisIdempotency(Generic[T]):
    """Each key is one Redis entry: ``running`` while the first call works, then its outcome
    (``done`` with the result, or ``unknown``), kept ``ttl_s``. A repeat on any replica replays
    the outcome; a concurrent one polls until it is there, and after ``wait_s`` (the first call's
    replica may have died mid-write) is told the outcome is unknown, never sent again."""

    def __init__(
        self,
        redis: Redis,
        ttl_s: float,
        *,
        dump: Callable[[T], str],
        load: Callable[[str], T],
        prefix: str,
        timeout_s: float,
        wait_s: float,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self._r, self._ttl_ms = _Redis(redis, prefix, max(timeout_s, 0.5)), int(ttl_s * 1000)
        self._dump, self._load, self._wait_s, self._sleep = dump, load, wait_s, sleep

    async def _get(self, name: str, print_: str) -> dict[str, Any] | None:
        raw = await self._r.do(self._r.redis.get(name))
        if raw is None:
            return None
        entry: dict[str, Any] = json.loads(raw)
        if entry["p"] != print_:
            raise InvalidArgument(KEY_REUSED[0], hint=KEY_REUSED[1])
        return entry

    async def known(self, key: str, print_: str) -> bool:
        return await self._get(self._r.name("ik", key), print_) is not None

    async def run(
        self, key: str, print_: str, work: Callable[[], Awaitable[T]], keep: Callable[[T], bool]
    ) -> tuple[T, bool]:
        name = self._r.name("ik", key)
        waited = 0.0
        claim = json.dumps({"s": "running", "p": print_})
        while not await self._r.do(self._r.redis.set(name, claim, nx=True, px=self._ttl_ms)):
            entry = await self._get(name, print_)
            if entry is None:
                continue  # released or expired in between: claim it again
            if entry["s"] == "done":
                return self._load(entry["o"]), True
            if entry["s"] == "unknown" or waited >= self._wait_s:
                raise OutcomeUnknown(
                    entry.get("m") or "The first call with this idempotency key has no recorded outcome yet.",
                    hint="Read the object's state before doing anything else; do not simply send it again.",
                )
            await self._sleep(0.05)
            waited += 0.05
        return await self._lead(name, print_, work, keep), False

    async def _lead(self, name: str, print_: str, work: Callable[[], Awaitable[T]], keep: Callable[[T], bool]) -> T:
        try:
            outcome = await work()
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                if isinstance(exc, Exception) and not may_have_been_sent(exc):
                    await self._settle(name, None)  # refused before anything was sent: a repeat may try
                else:
                    await self._settle(name, {"s": "unknown", "p": print_, "m": _ended(exc)})
            raise
        if keep(outcome):
            await self._settle(name, {"s": "done", "p": print_, "o": self._dump(outcome)})
        else:
            await self._settle(name, None)
        return outcome

    async def _settle(self, name: str, entry: dict[str, Any] | None) -> None:
        """Record how the first call ended (None: forget the key). If Redis is gone now, the
        entry stays ``running`` until it expires, and repeats are told the outcome is unknown."""
        redis = self._r.redis
        try:
            await self._r.do(
                redis.delete(name) if entry is None else redis.set(name, json.dumps(entry), px=self._ttl_ms)
            )
        except Refused:
            log.error("idempotency_outcome_not_recorded")
