"""The ordered chain around every tool call.

Each stage is a small object with one method ``(call, next)``. The list is data, built
once in ``app.py``. Issue 2 ships the outermost error boundary and a logging stage;
authorization, audit, cache, breaker, retry and bulkhead stages slot into the same list.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from resync_mcp.clock import Clock
from resync_mcp.errors import ResyncError

log = structlog.get_logger("resync_mcp.pipeline")


@dataclass(frozen=True)
class ToolCall:
    tool: str
    arguments: dict[str, Any]
    engine: str | None
    correlation_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


Next = Callable[[ToolCall], Awaitable[Any]]


class Stage(Protocol):
    async def __call__(self, call: ToolCall, next: Next) -> Any: ...


class ToolFailure(Exception):
    """What a tool call ends with when it fails: a sentence safe to show the client."""

    def __init__(self, message: str, *, correlation_id: str) -> None:
        super().__init__(message)
        self.correlation_id = correlation_id


class ErrorBoundary:
    """Outermost stage: known errors become their sentence; anything else a generic one.

    The client never sees a traceback or an exception's text it did not ask for; the
    detail goes to the log under the correlation id the client is given.
    """

    async def __call__(self, call: ToolCall, next: Next) -> Any:
        try:
            return await next(call)
        except ResyncError as exc:
            raise ToolFailure(exc.for_model(), correlation_id=call.correlation_id) from None
        except Exception:
            log.exception("tool_crashed", tool=call.tool, correlation_id=call.correlation_id)
            raise ToolFailure(
                f"Internal error in {call.tool}; nothing was changed. Report correlation id {call.correlation_id}.",
                correlation_id=call.correlation_id,
            ) from None


class LogStage:
    """One structured log line per call: tool, engine, outcome, latency. Arguments stay out."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def __call__(self, call: ToolCall, next: Next) -> Any:
        start = self._clock.monotonic()
        outcome = "error"
        try:
            result = await next(call)
            outcome = "ok"
            return result
        finally:
            log.info(
                "tool_call",
                tool=call.tool,
                engine=call.engine,
                outcome=outcome,
                ms=round((self._clock.monotonic() - start) * 1000, 2),
                correlation_id=call.correlation_id,
            )


class Pipeline:
    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = list(stages)

    async def run(self, call: ToolCall, handler: Next) -> Any:
        """Run ``handler`` inside every stage, first stage outermost."""
        chain = handler
        for stage in reversed(self.stages):
            chain = _bind(stage, chain)
        return await chain(call)


def _bind(stage: Stage, nxt: Next) -> Next:
    async def step(call: ToolCall) -> Any:
        return await stage(call, nxt)

    return step
