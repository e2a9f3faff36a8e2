"""The idempotency and confirmation-token contract, held by the in-process stores and by the
Redis ones a fleet shares (a real Redis): a key is never released once the request may have
reached the engine; a token confirms one call, once; an unreachable Redis refuses the write."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from redis.asyncio import Redis

from resync_mcp.clock import FakeClock
from resync_mcp.errors import Conflict, EngineUnavailable, InvalidArgument, OutcomeUnknown, Refused, ResyncError
from resync_mcp.services.control.safety import ConfirmationTokens, Idempotency, IdempotencyStore, Tokens
from resync_mcp.services.control.shared import RedisConfirmationTokens, RedisIdempotency

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "redis"])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Tokens, Any]]:
    clock = FakeClock()
    if request.param == "memory":
        yield ConfirmationTokens(clock, 300), IdempotencyStore(clock, ttl_s=600)
        return
    redis = Redis.from_url(request.getfixturevalue("redis_url"))
    prefix = f"t{secrets.token_hex(4)}:"  # each test its own keys on the shared Redis
    yield RedisConfirmationTokens(redis, clock, 300, prefix=prefix, timeout_s=1), _redis_idem(redis, prefix)
    await redis.aclose()


def _redis_idem(redis: Redis, prefix: str) -> RedisIdempotency[str]:
    return RedisIdempotency(redis, 600, dump=str, load=str, prefix=prefix, timeout_s=1, wait_s=60, sleep=_poll)


async def _poll(seconds: float) -> None:
    """The store's wait between polls, without real time: one turn of the loop."""
    await anyio.lowlevel.checkpoint()


@pytest.mark.parametrize(
    ("failure", "sent_again"),
    [
        (OutcomeUnknown("no answer after sending"), False),
        (EngineUnavailable("503 from the engine", status=503), False),
        (RuntimeError("a bug after the request left"), False),
        (EngineUnavailable("connection refused"), True),  # never connected: nothing left
        (EngineUnavailable("429 rate limited", status=429), True),  # the engine refused it
        (Conflict("wrong state", status=409), True),
    ],
)
async def test_a_failed_first_call_frees_its_key_only_when_nothing_was_sent(
    stores: tuple[Tokens, Idempotency[str]], failure: Exception, sent_again: bool
) -> None:
    store = stores[1]
    sends = []

    async def work() -> str:
        sends.append(1)
        if len(sends) == 1:
            raise failure
        return "done"

    with pytest.raises(type(failure)):
        await store.run("k", "print", work, lambda r: True)
    if sent_again:
        assert await store.run("k", "print", work, lambda r: True) == ("done", False) and len(sends) == 2
    else:
        with pytest.raises(OutcomeUnknown) as info:
            await store.run("k", "print", work, lambda r: True)
        assert len(sends) == 1 and isinstance(info.value, ResyncError)


async def test_a_repeat_replays_and_a_concurrent_one_waits_for_the_first(
    stores: tuple[Tokens, Idempotency[str]],
) -> None:
    store = stores[1]
    sends, release = [], anyio.Event()

    async def work() -> str:
        sends.append(1)
        await release.wait()
        return "held"

    results: list[tuple[str, bool]] = []

    async def caller() -> None:
        results.append(await store.run("k2", "print", work, lambda r: True))

    async with anyio.create_task_group() as tg:
        tg.start_soon(caller)
        while not sends:
            await anyio.lowlevel.checkpoint()
        tg.start_soon(caller)
        for _ in range(200):  # the repeat reaches the claimed key (in Redis: a few round trips) and waits
            await anyio.lowlevel.checkpoint()
        assert not results
        release.set()
    assert sorted(results) == [("held", False), ("held", True)] and len(sends) == 1
    assert await store.known("k2", "print")
    with pytest.raises(InvalidArgument, match="different action"):
        await store.run("k2", "other print", work, lambda r: True)


async def test_a_token_confirms_its_own_action_once(stores: tuple[Tokens, Idempotency[str]]) -> None:
    tokens = stores[0]
    token, _ = await tokens.issue("print-a")
    with pytest.raises(InvalidArgument, match="different action"):
        await tokens.redeem(token, "print-b")
    await tokens.redeem(token, "print-a")  # a wrong print did not use it up
    with pytest.raises(InvalidArgument, match="already used"):
        await tokens.redeem(token, "print-a")
    with pytest.raises(InvalidArgument, match="not known"):
        await tokens.redeem("ct_never-issued", "print-a")


async def test_two_replicas_share_keys_and_tokens(redis_url: str) -> None:
    """Two stores on one Redis stand for two replicas: what one issued or ran, the other knows."""
    prefix, clock = f"t{secrets.token_hex(4)}:", FakeClock()
    a, b = Redis.from_url(redis_url), Redis.from_url(redis_url)
    sends = []

    async def work() -> str:
        sends.append(1)
        return "sent"

    assert await _redis_idem(a, prefix).run("k", "p", work, lambda r: True) == ("sent", False)
    assert await _redis_idem(b, prefix).run("k", "p", work, lambda r: True) == ("sent", True)
    token, _ = await RedisConfirmationTokens(a, clock, 300, prefix=prefix, timeout_s=1).issue("p")
    await RedisConfirmationTokens(b, clock, 300, prefix=prefix, timeout_s=1).redeem(token, "p")
    with pytest.raises(InvalidArgument, match="already used"):
        await RedisConfirmationTokens(a, clock, 300, prefix=prefix, timeout_s=1).redeem(token, "p")
    assert len(sends) == 1
    await a.aclose()
    await b.aclose()


async def test_a_claim_left_by_a_dead_replica_is_never_sent_again(redis_url: str) -> None:
    redis, prefix = Redis.from_url(redis_url), f"t{secrets.token_hex(4)}:"
    waited: list[float] = []

    async def fake_sleep(s: float) -> None:
        waited.append(s)

    store = RedisIdempotency(redis, 600, dump=str, load=str, prefix=prefix, timeout_s=1, wait_s=1, sleep=fake_sleep)
    await redis.set(store._r.name("ik", "k"), '{"s": "running", "p": "p"}')  # claimed, then the replica died
    with pytest.raises(OutcomeUnknown, match="no recorded outcome"):
        await store.run("k", "p", lambda: pytest.fail("sent again"), lambda r: True)
    assert sum(waited) >= 1
    await redis.aclose()


async def test_writes_refuse_when_redis_does_not_answer() -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    store = _redis_idem(dead, "x:")
    with pytest.raises(Refused, match="Redis") as info:
        await store.run("k", "p", lambda: pytest.fail("sent without the safety store"), lambda r: True)
    assert info.value.retryable and "Nothing was sent" in info.value.message
    with pytest.raises(Refused):
        await RedisConfirmationTokens(dead, FakeClock(), 300, prefix="x:", timeout_s=1).issue("p")
    await dead.aclose()
