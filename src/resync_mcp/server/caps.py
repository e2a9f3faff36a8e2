"""Caps an exposed port needs beyond uvicorn's connection cap and the SDK's session cap:

- sessions per principal (``server.max_sessions_per_principal``): one caller, or one leaked
  token, cannot take every session slot. A request that would open a session (a POST without
  ``Mcp-Session-Id`` on the MCP path, or the legacy ``GET /sse``) is answered 429 when the
  caller already holds that many. Sessions are learnt from the SDK's answers (the session id it
  hands out), forgotten on DELETE, on a 404 for that id, and after ``server.session_idle_s``
  unused, the SDK's own idle expiry (which tells no one).
- open SSE streams (``server.max_sse_streams``): a GET is a long-lived stream in both
  transports; beyond the cap a GET is answered 503 with ``Retry-After``.

The principal is the one the edge verified (server/edge.py), or the server's own without auth.
"""

from __future__ import annotations

from collections.abc import Callable

from resync_mcp.server.asgi import ASGIApp, Message, Receive, Scope, Send, header, respond_json
from resync_mcp.server.front import request_principal

SESSION_HEADER = b"mcp-session-id"


class Caps:
    def __init__(
        self,
        app: ASGIApp,
        *,
        per_principal: int,
        streams: int,
        idle_s: float,
        monotonic: Callable[[], float],
        opening: tuple[str, str],
    ) -> None:
        self.app, self.per_principal, self.max_streams = app, per_principal, streams
        self.idle_s, self.monotonic, self.opening = idle_s, monotonic, opening  # (method, path) opening a session
        self.sessions: dict[str, tuple[str, float]] = {}  # session id -> (principal key, last use)
        self.streams = 0

    def held_by(self, key: str) -> int:
        now = self.monotonic()
        for sid, (_, seen) in list(self.sessions.items()):
            if now - seen > self.idle_s:
                del self.sessions[sid]
        return sum(1 for owner, _ in self.sessions.values() if owner == key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        principal = request_principal(scope)
        key = principal.key if principal is not None else "local"
        method, path = scope.get("method"), scope.get("path", "")
        sid = header(scope, SESSION_HEADER)
        if sid is not None and sid in self.sessions:
            self.sessions[sid] = (self.sessions[sid][0], self.monotonic())
        opens = sid is None and (method, path) == self.opening
        if opens and self.held_by(key) >= self.per_principal:
            await _refuse(send, 429, f"this caller already holds {self.per_principal} sessions; close one first")
            return
        stream = method == "GET"
        if stream and self.streams >= self.max_streams:
            await _refuse(send, 503, f"{self.max_streams} event streams are open; reconnect shortly")
            return
        legacy = opens and method == "GET"  # legacy SSE: the session lives as long as its stream
        token = f"sse:{id(scope)}"
        if legacy:
            self.sessions[token] = (key, float("inf"))
        self.streams += stream

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                issued = header(message, SESSION_HEADER)
                if issued is not None and sid is None and message["status"] < 300:
                    self.sessions[issued] = (key, self.monotonic())
                if sid is not None and message["status"] == 404:
                    self.sessions.pop(sid, None)
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.streams -= stream
            if legacy:
                self.sessions.pop(token, None)
            if method == "DELETE" and sid is not None:
                self.sessions.pop(sid, None)


async def _refuse(send: Send, status: int, sentence: str) -> None:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32000, "message": sentence}}
    await respond_json(send, status, body, [(b"retry-after", b"5")])
