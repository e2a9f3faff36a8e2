"""Progress and log notifications to the client (``resync_mcp.notices`` reports them).

- Progress: for a request that carried a progress token, ``notifications/progress`` on that
  request's stream (the SDK's ``report_progress`` is a no-op without a token).
- Logging: the server declares the logging capability. 2025-era clients pick a minimum level
  with ``logging/setLevel`` (default ``warning``: only what an operator should act on);
  2026-era clients opt in per request through ``_meta`` and the SDK drops what they did not
  ask for. Messages ride the stream of the call they concern.
"""

from __future__ import annotations

import contextvars
import warnings
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import EmptyResult, SetLevelRequestParams

from resync_mcp.notices import Channel, Level, channel_var

_KEY = "resync.log_level"
DEFAULT_LEVEL: Level = "warning"
_RANK = {
    name: i for i, name in enumerate(("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"))
}


def connection_state(ctx: ServerRequestContext[Any, Any]) -> dict[str, Any]:
    # The SDK keeps per-connection application state on the Connection, which ServerSession
    # holds privately; a per-connection level needs exactly that scope.
    connection = getattr(ctx.session, "_connection", None)
    state = getattr(connection, "state", None)
    return state if isinstance(state, dict) else {}


async def set_level(ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams) -> EmptyResult:
    connection_state(ctx)[_KEY] = params.level
    return EmptyResult()


class _Channel:
    """One call's channel to its client: progress on its stream, and each notice at most once
    (a call that makes several requests tells each thing once), at or above the level asked."""

    __slots__ = ("ctx", "sent")

    def __init__(self, ctx: ServerRequestContext[Any, Any]) -> None:
        self.ctx = ctx
        self.sent: set[tuple[Any, ...]] | None = None

    async def progress(self, done: float, total: float | None, message: str | None) -> None:
        assert self.ctx.session is not None
        await self.ctx.session.report_progress(done, total, message)

    async def notice(self, level: Level, data: dict[str, Any]) -> None:
        ctx, key = self.ctx, (data.get("event"), data.get("engine"))
        if _RANK[level] < _RANK[str(connection_state(ctx).get(_KEY, DEFAULT_LEVEL))]:
            return
        self.sent = self.sent or set()
        if key in self.sent:
            return
        self.sent.add(key)
        assert ctx.session is not None
        with warnings.catch_warnings():  # protocol logging is deprecated in the 2026 era, still served
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await ctx.session.send_log_message(level, data, logger="resync-mcp", related_request_id=ctx.request_id)


def enter(ctx: ServerRequestContext[Any, Any]) -> contextvars.Token[Channel | None] | None:
    """During a tools/call or resources/read, progress and notices go to its client (the front
    middleware calls this, and resets the token after)."""
    if ctx.method not in ("tools/call", "resources/read") or ctx.session is None:
        return None
    return channel_var.set(_Channel(ctx))


def register(mcp: MCPServer) -> None:
    """Serve logging/setLevel (which also makes the server declare the logging capability)."""
    mcp._lowlevel_server.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)
