"""The session cap's memory on an injected clock: a session the SDK expired for idleness (it
tells no one) stops counting against its caller after server.session_idle_s."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from resync_mcp.server.caps import Caps

pytestmark = pytest.mark.anyio


async def _issuing_app(scope: Any, receive: Any, send: Any) -> None:
    """Stands in for the SDK: each POST without a session id is handed a new one."""
    headers = [(b"content-type", b"application/json")]
    if not any(k == b"mcp-session-id" for k, _ in scope["headers"]):
        headers.append((b"mcp-session-id", f"s{next(_ids)}".encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


_ids = itertools.count()


async def test_idle_sessions_stop_counting_after_the_idle_time() -> None:
    now = [0.0]
    caps = Caps(_issuing_app, per_principal=1, streams=5, idle_s=60, monotonic=lambda: now[0], opening=("POST", "/mcp"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=caps), base_url="http://t") as http:
        sid = (await http.post("/mcp")).headers["mcp-session-id"]
        assert (await http.post("/mcp")).status_code == 429
        now[0] = 50.0
        assert (await http.post("/mcp", headers={"mcp-session-id": sid})).status_code == 200  # used: kept alive
        now[0] = 100.0
        assert (await http.post("/mcp")).status_code == 429  # 50 s since its last use: still held
        now[0] = 111.0
        assert (await http.post("/mcp")).status_code == 200  # 61 s unused: the SDK has expired it
