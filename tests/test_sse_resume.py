"""Streamable HTTP from the outside: each SSE response opens with a priming event (an id, empty
data, the retry field), and a client whose stream drops mid-call gets the result by
reconnecting with Last-Event-ID."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from resync_mcp.server.events import MemoryEventStore
from tests.engines import configured_engine
from tests.rawstdio import HTTP_HEADERS as HEADERS
from tests.rawstdio import INITIALIZE as INIT
from tests.test_transports import _free_port, _start

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def _events(response: httpx.Response) -> AsyncIterator[dict[str, str]]:
    event: dict[str, str] = {}
    async for line in response.aiter_lines():
        if not line:
            if event:
                yield event
            event = {}
            continue
        field, _, value = line.partition(":")
        event[field] = value.removeprefix(" ")


async def test_priming_event_and_resumption_after_a_dropped_stream(tmp_path: Path) -> None:
    # The engine answers each request after 1.5 s: long enough to drop the stream mid-call.
    with configured_engine(tmp_path, faults={"latency_ms": 1500}) as lab:
        port = _free_port()
        args = ["--config", str(lab.config), "serve", "--transport", "http", "--port", str(port)]
        server = _start(args, lab.work, lab.env)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
                async with c.stream("POST", "/mcp", json=INIT, headers=HEADERS) as r:
                    session = r.headers["mcp-session-id"]
                    events = [e async for e in _events(r)]
                assert events[0]["data"] == "" and events[0]["id"] and events[0]["retry"] == "2000"
                assert json.loads(events[1]["data"])["result"]["capabilities"]["logging"] == {}
                headers = {**HEADERS, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"}
                await c.post("/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
                call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "plan_summary"}}
                async with c.stream("POST", "/mcp", json=call, headers=headers) as r:
                    # the priming event only: the stream is dropped before the answer
                    first = await anext(aiter(_events(r)))
                assert first["data"] == "" and first["retry"] == "2000"
                resume = {"Accept": "text/event-stream", "mcp-session-id": session, "Last-Event-ID": first["id"]}
                resume["mcp-protocol-version"] = "2025-11-25"
                async with c.stream("GET", "/mcp", headers=resume) as r:
                    assert r.status_code == 200
                    async for event in _events(r):
                        if event.get("data"):
                            answer = json.loads(event["data"])
                            break
                assert answer["id"] == 2 and answer["result"]["structuredContent"]["total_jobs"] == 200
        finally:
            server.terminate()
            server.wait(timeout=10)


async def test_the_store_is_bounded_and_replays_only_the_asked_stream() -> None:
    store = MemoryEventStore(max_events=10)
    ids = [await store.store_event("a" if i % 2 else "b", None if i < 2 else {"i": i}) for i in range(12)]  # type: ignore[arg-type]
    assert len(store._events) == 10 and ids[0] not in store._events  # oldest dropped first
    got: list[object] = []

    async def send(event: object) -> None:
        got.append(event.message)  # type: ignore[attr-defined]

    assert await store.replay_events_after(ids[3], send) == "a"
    assert got == [{"i": i} for i in range(5, 12, 2)]  # only later events of stream "a"
    assert await store.replay_events_after("guessed", send) is None and len(set(ids)) == 12
