"""The endpoints a deployment's machinery calls, outside MCP and before the auth edge (a
balancer's probe or a Prometheus scrape carries no user token):

- ``GET /healthz``: the process answers (liveness);
- ``GET /readyz``: 200 when this replica should get traffic, 503 with the reasons when not
  (an engine's breaker open, the audit not writable, Redis configured but not answering, or
  shutting down), so that a balancer routes around it;
- ``GET /metrics``: Prometheus text (resync_mcp/metrics.py), unless ``server.metrics = false``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from resync_mcp.metrics import CONTENT_TYPE, Metrics
from resync_mcp.server.asgi import ASGIApp, Receive, Scope, Send, respond

Readiness = Callable[[], Awaitable[dict[str, Any]]]
NO_STORE = [(b"cache-control", b"no-store")]


class Ops:
    def __init__(self, app: ASGIApp, *, metrics: Metrics | None, readiness: Readiness) -> None:
        self.app, self.metrics, self.readiness = app, metrics, readiness

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path") if scope["type"] == "http" and scope.get("method") == "GET" else None
        if path == "/healthz":
            await respond(send, 200, b'{"status": "alive"}\n', "application/json", NO_STORE)
        elif path == "/readyz":
            report = await self.readiness()
            body = json.dumps(report).encode() + b"\n"
            await respond(send, 200 if report["ready"] else 503, body, "application/json", NO_STORE)
        elif path == "/metrics" and self.metrics is not None:
            await respond(send, 200, self.metrics.exposition(), CONTENT_TYPE, NO_STORE)
        else:
            await self.app(scope, receive, send)
