"""The MCP surface. The only package that imports the MCP SDK."""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer

from resync_mcp.audit.log import AuditLog, ClientInfo, client_var
from resync_mcp.config import LimitSettings
from resync_mcp.security.policy import unruled
from resync_mcp.server import notify, prompts, resources
from resync_mcp.server.arguments import StrictArguments, make_strict
from resync_mcp.server.instructions import INSTRUCTIONS
from resync_mcp.server.pipeline import Pipeline
from resync_mcp.server.protocol_errors import PromptChecks
from resync_mcp.server.schemas import compact_tools
from resync_mcp.server.tools import Runner
from resync_mcp.server.tools import audit as audit_tools
from resync_mcp.server.tools import control as control_tools
from resync_mcp.server.tools import graph as graph_tools
from resync_mcp.server.tools import health as health_tools
from resync_mcp.server.tools import knowledge as knowledge_tools
from resync_mcp.server.tools import plan as plan_tools
from resync_mcp.services.control.service import ControlService
from resync_mcp.services.graph import GraphService
from resync_mcp.services.health import HealthService
from resync_mcp.services.knowledge import KnowledgeService
from resync_mcp.services.plan import PlanService


class ClientInfoMiddleware:
    """Tells the audit which client (name, version) and transport each request came from."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        params = ctx.session.client_params if ctx.session is not None else None
        info = params.client_info if params is not None else None
        transport = "http" if getattr(ctx.request, "headers", None) is not None else "local"
        token = client_var.set(
            ClientInfo(info.name[:100] if info else None, info.version[:50] if info else None, transport)
        )
        try:
            return await call_next(ctx)
        finally:
            client_var.reset(token)


def build_server(
    svc: PlanService,
    pipeline: Pipeline,
    limits: LimitSettings,
    health: HealthService,
    control: ControlService,
    tools: frozenset[str],
    audit: AuditLog | None = None,
    knowledge: KnowledgeService | None = None,
    graph: GraphService | None = None,
    *,
    version: str,
    log_level: str = "INFO",
) -> MCPServer:
    strict, prompt_checks = StrictArguments(), PromptChecks()
    mcp: MCPServer = MCPServer(
        "resync-mcp",
        title="HWA / TWS plan assistant",
        instructions=INSTRUCTIONS,
        version=version,
        log_level=log_level,  # type: ignore[arg-type]
        middleware=[ClientInfoMiddleware(), notify.Notifications(), strict, prompt_checks],
    )
    runner = Runner(pipeline)
    plan_tools.register(mcp, svc, runner, limits)
    health_tools.register(mcp, health, runner)
    control_tools.register(mcp, control, runner, pipeline)
    audit_tools.register(mcp, audit, runner)
    if knowledge is not None:
        knowledge_tools.register(mcp, knowledge, runner)
    if graph is not None:
        graph_tools.register(mcp, graph, runner)
    prompts.register(mcp)
    notify.register(mcp)
    missing = unruled(t.name for t in mcp._tool_manager.list_tools())
    if missing:
        raise RuntimeError(f"tool(s) {', '.join(missing)} have no rule in security/policy.py RULES; add one")
    for tool in mcp._tool_manager.list_tools():  # expose only what the settings enable
        if tool.name not in tools:
            mcp.remove_tool(tool.name)
    make_strict(mcp)
    compact_tools(mcp)
    strict.server = prompt_checks.server = mcp
    resources.register(mcp, svc, health)
    return mcp
