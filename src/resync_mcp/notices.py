"""What the person behind a client should see while a call runs: progress of long work, and
notices (stale data served, a breaker opened, an engine unreachable).

The core never imports the MCP SDK: it reports to whatever sink the server put in the
context of the current call (``server/notify.py`` sends them as ``notifications/progress``
and ``notifications/message``). Outside a call, or when the client asked for nothing, a
report costs a context-variable read. Every notice also goes to the server's own log.
"""

from __future__ import annotations

import contextvars
from typing import Any, Literal, Protocol

import structlog

Level = Literal["debug", "info", "notice", "warning", "error"]


class Channel(Protocol):
    """Where the current call's progress and notices go (server/notify.py sets one per call)."""

    async def progress(self, done: float, total: float | None, message: str | None) -> None: ...

    async def notice(self, level: Level, data: dict[str, Any]) -> None: ...


channel_var: contextvars.ContextVar[Channel | None] = contextvars.ContextVar("resync_channel", default=None)

log = structlog.get_logger("resync_mcp.notices")


async def progress(done: float, total: float | None = None, message: str | None = None) -> None:
    """Report how far the current call is. A failing client channel never fails the call."""
    sink = channel_var.get()
    if sink is not None:
        try:
            await sink.progress(done, total, message)
        except Exception:
            log.debug("progress_not_sent", exc_info=True)


async def notify(level: Level, event: str, message: str, **fields: Any) -> None:
    """Tell the operator (and the log) about something that affects what they are shown."""
    getattr(log, "info" if level in ("debug", "info", "notice") else level)(event, message=message, **fields)
    sink = channel_var.get()
    if sink is not None:
        try:
            await sink.notice(level, {"event": event, "message": message, **fields})
        except Exception:
            log.debug("notice_not_sent", exc_info=True)


class Steps:
    """Progress over a known number of steps: ``await steps.next("reading the log")``."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0

    async def next(self, message: str) -> None:
        self.done = min(self.total, self.done + 1)
        await progress(self.done, self.total, message)
