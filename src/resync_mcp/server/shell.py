"""The MCP server object before the app exists: identity, instructions, capabilities and the
middleware every request passes (server/front.py). It imports nothing heavy, so that over
stdio it answers a client's first requests while the rest is built (server/gate.py);
build_server() then registers the tools, prompts and resources on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.request_state import RequestStateSecurity
from mcp.types import Tool

from resync_mcp.server import notify
from resync_mcp.server.arguments import StrictArguments
from resync_mcp.server.front import Front, request_principal
from resync_mcp.server.gate import ReadyGate
from resync_mcp.server.instructions import INSTRUCTIONS
from resync_mcp.server.protocol_errors import PromptChecks


class ShellServer(MCPServer):
    """An MCPServer whose tools/list, until the app is ready, is the gate's early listing, and
    after that the tools the caller may use (``listable``, set by build_server)."""

    gate: ReadyGate
    listable: Callable[[list[str]], list[str]] | None = None

    async def list_tools(self) -> list[Tool]:
        if not self.gate.ready.is_set() and self.gate.listing is not None:
            return list(self.gate.listing)
        tools = await super().list_tools()
        if self.listable is None:
            return tools
        shown = set(self.listable([t.name for t in tools]))
        return [t for t in tools if t.name in shown]


@dataclass
class Shell:
    mcp: ShellServer
    gate: ReadyGate
    strict: StrictArguments
    prompt_checks: PromptChecks


def _principal_of(ctx: ServerRequestContext[Any, Any]) -> str | None:
    principal = request_principal(getattr(ctx.request, "scope", None))
    return principal.key if principal is not None else None


def request_state(keys: str | None) -> RequestStateSecurity | None:
    """Sealing of a multi-round-trip request's state: with shared keys, a confirmation asked by
    one replica is answered on any other; bound to the caller who started it."""
    ring = [k.strip() for k in (keys or "").split(",") if k.strip()]
    return RequestStateSecurity(keys=ring, bind_principal=_principal_of) if ring else None


def make_shell(
    *,
    version: str,
    log_level: str = "INFO",
    listing: list[Tool] | None = None,
    request_state_keys: str | None = None,
) -> Shell:
    """``listing``: what tools/list answers before the app is ready (None: wait for it)."""
    gate, strict, prompt_checks = ReadyGate(listing), StrictArguments(), PromptChecks()
    mcp = ShellServer(
        "resync-mcp",
        title="HWA / TWS plan assistant",
        instructions=INSTRUCTIONS,
        version=version,
        log_level=log_level,  # type: ignore[arg-type]
        middleware=[Front(gate, strict, prompt_checks)],
        request_state_security=request_state(request_state_keys),
    )
    mcp.gate = gate
    notify.register(mcp)
    strict.server = prompt_checks.server = mcp
    return Shell(mcp, gate, strict, prompt_checks)
