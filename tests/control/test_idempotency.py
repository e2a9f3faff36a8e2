"""An idempotency key is never released once the request may have reached the engine."""

from __future__ import annotations

import pytest

from resync_mcp.clock import FakeClock
from resync_mcp.errors import Conflict, EngineUnavailable, OutcomeUnknown, ResyncError
from resync_mcp.services.control.safety import IdempotencyStore

pytestmark = pytest.mark.anyio


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
    failure: Exception, sent_again: bool
) -> None:
    store: IdempotencyStore[str] = IdempotencyStore(FakeClock(), ttl_s=600)
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
