"""A fast first answer over stdio.

A desktop client starts the server and asks ``initialize`` then ``tools/list`` at once; the
full build (engines, simulator, audit keys, 41 tools' schemas) takes longer than the SDK's own
start. So ``serve`` over stdio answers those first requests from a shell (``server/shell.py``)
while the app is built behind it:

- ``initialize`` and ``ping`` are answered by the SDK as usual;
- ``tools/list`` is answered (by the shell's ``list_tools``, so that the SDK shapes the answer
  as always) from ``surface.json``, the published tool list of a default
  build, filtered to the tools the settings expose. It is used only when the settings that
  shape schemas (``limits``) are the defaults it was made with; otherwise the list waits for
  the build. A test keeps the file equal to a real build (``python -m resync_mcp.server.gate``
  rewrites it);
- everything else waits until the app is ready, then runs as usual; if the build failed,
  it is answered with the build's one-sentence error.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import Tool
from mcp_types import INTERNAL_ERROR

from resync_mcp.config import LimitSettings

SURFACE = Path(__file__).with_name("surface.json")
_NOW = frozenset({"initialize", "ping", "server/discover"})


def first_listing(limits: LimitSettings, exposed: frozenset[str], path: Path = SURFACE) -> list[Tool] | None:
    """The published tools for these settings, without building the app; None when unknown."""
    try:
        surface = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if surface.get("limits") != limits.model_dump(mode="json"):
        return None
    return [Tool.model_validate(t) for t in surface["tools"] if t["name"] in exposed]


class ReadyGate:
    """Holds requests until the app is built (see the module doc); the front middleware asks it
    first (server/front.py)."""

    def __init__(self, listing: list[Tool] | None = None) -> None:
        self.listing = listing
        self.ready = asyncio.Event()
        self.listed = asyncio.Event()
        self.failure: str | None = None

    def open(self) -> None:
        self.ready.set()

    def fail(self, sentence: str) -> None:
        self.failure = sentence
        self.ready.set()

    @property
    def passes(self) -> bool:
        """Whether every request may go straight on (the usual case, checked first)."""
        return self.failure is None and self.ready.is_set()

    async def admit(self, ctx: ServerRequestContext[Any, Any]) -> None:
        """Hold ``ctx`` until the app is ready; raise the build's sentence if it failed."""
        if not self.ready.is_set() and ctx.method not in _NOW and not ctx.method.startswith("notifications/"):
            if ctx.method == "tools/list" and self.listing is not None:
                self.listed.set()  # the shell's list_tools answers from the listing
                return
            await self.ready.wait()
        if self.failure is not None and ctx.method not in _NOW:
            raise MCPError(INTERNAL_ERROR, self.failure)


def surface(tools: list[Tool], limits: LimitSettings) -> dict[str, Any]:
    return {
        "limits": limits.model_dump(mode="json"),
        "tools": [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools],
    }


async def _live() -> dict[str, Any]:
    """The surface of a default build with every toolset (imports the whole app)."""
    from mcp import Client

    from resync_mcp.app import build_app
    from resync_mcp.config import Settings

    settings = Settings.model_validate(
        {"demo": {"enabled": True}, "security": {"toolsets": ["read", "operate", "admin"]}, "audit": {"enabled": False}}
    )
    async with Client(build_app(settings).server) as mcp:
        tools = (await mcp.list_tools()).tools
    return surface(tools, settings.limits)


def live_surface() -> dict[str, Any]:
    return asyncio.run(_live())


if __name__ == "__main__":
    SURFACE.write_text(json.dumps(live_surface(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {SURFACE}")
