"""Thin tool adapters: declare the MCP surface, run the service inside the pipeline."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from resync_mcp.server.pipeline import Pipeline, ToolCall, ToolFailure

T = TypeVar("T")

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)

Engine = Annotated[
    str | None,
    Field(default=None, max_length=64, description="Engine name from the server's configuration; omit for the default"),
]


class Runner:
    """Runs one tool call through the pipeline and turns failures into tool errors."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    async def __call__(
        self, tool: str, engine: str | None, arguments: dict[str, Any], fn: Callable[[], Awaitable[T]]
    ) -> T:
        try:
            result: T = await self.pipeline.run(ToolCall(tool, arguments, engine, body=fn))
        except ToolFailure as exc:
            raise ToolError(str(exc)) from None
        return result
