"""Registers the tools, prompts and resources on the server (its shell: server/shell.py)."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

from resync_mcp.audit.log import AuditLog
from resync_mcp.config import LimitSettings
from resync_mcp.security.policy import unruled, visible
from resync_mcp.server import prompts, resources
from resync_mcp.server.arguments import make_strict
from resync_mcp.server.pipeline import AuthorizeStage, Pipeline
from resync_mcp.server.schemas import compact_tools
from resync_mcp.server.shell import Shell, make_shell
from resync_mcp.server.tools import Runner
from resync_mcp.server.tools import audit as audit_tools
from resync_mcp.server.tools import control as control_tools
from resync_mcp.server.tools import graph as graph_tools
from resync_mcp.server.tools import health as health_tools
from resync_mcp.server.tools import identity as identity_tools
from resync_mcp.server.tools import knowledge as knowledge_tools
from resync_mcp.server.tools import plan as plan_tools
from resync_mcp.services.control.service import ControlService
from resync_mcp.services.graph import GraphService
from resync_mcp.services.health import HealthService
from resync_mcp.services.knowledge import KnowledgeService
from resync_mcp.services.plan import PlanService


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
    shell: Shell | None = None,
    request_state_keys: str | None = None,
) -> MCPServer:
    """Register the tools, prompts and resources on ``shell`` (a new one by default); the
    caller opens its gate once the app has started."""
    own = shell is None
    shell = shell or make_shell(version=version, log_level=log_level, request_state_keys=request_state_keys)
    mcp = shell.mcp
    runner = Runner(pipeline)
    authorize = next(s for s in pipeline.stages if isinstance(s, AuthorizeStage))
    identity_tools.register(mcp, runner, authorize, svc.engines.names, svc.engines.default, svc.clock)
    plan_tools.register(mcp, svc, runner, limits)
    health_tools.register(mcp, health, runner)
    control_tools.register(mcp, control, runner, pipeline)
    audit_tools.register(mcp, audit, runner)
    if knowledge is not None:
        knowledge_tools.register(mcp, knowledge, runner)
    if graph is not None:
        graph_tools.register(mcp, graph, runner)
    prompts.register(mcp)
    missing = unruled(t.name for t in mcp._tool_manager.list_tools())
    if missing:
        raise RuntimeError(f"tool(s) {', '.join(missing)} have no rule in security/policy.py RULES; add one")
    for tool in mcp._tool_manager.list_tools():  # expose only what the settings enable
        if tool.name not in tools:
            mcp.remove_tool(tool.name)
    make_strict(mcp)
    compact_tools(mcp)
    resources.register(mcp, svc, health)
    shell.mcp.listable = lambda names: visible(authorize.current(), names, authorize.policy)
    if own:
        shell.gate.open()  # nothing was answered before this server was complete
    return mcp
