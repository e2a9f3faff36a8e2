"""Registers the tools, prompts and resources on the server (its shell: server/shell.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

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

F = TypeVar("F", bound=Callable[..., Any])


class EnabledOnly:
    """The server as the tool modules see it while registering: a tool the settings do not
    enable is skipped before the SDK builds its schema and validators (start-up time)."""

    def __init__(self, mcp: MCPServer, enabled: frozenset[str]) -> None:
        self._mcp, self._enabled = mcp, enabled
        self.offered: list[str] = []

    def tool(self, name: str | None = None, **kwargs: Any) -> Callable[[F], F]:
        register = self._mcp.tool(name=name, **kwargs)

        def decorate(fn: F) -> F:
            self.offered.append(name or fn.__name__)
            return register(fn) if self.offered[-1] in self._enabled else fn

        return decorate

    def add_tool(self, fn: Callable[..., Any], name: str | None = None, **kwargs: Any) -> None:
        self.offered.append(name or fn.__name__)
        if self.offered[-1] in self._enabled:
            self._mcp.add_tool(fn, name=name, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._mcp, attr)


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
    enabled_only = EnabledOnly(mcp, tools)
    only = cast(MCPServer, enabled_only)  # a disabled toolset's tools are not even built
    identity_tools.register(only, runner, authorize, svc.engines.names, svc.engines.default, svc.clock)
    plan_tools.register(only, svc, runner, limits)
    health_tools.register(only, health, runner)
    control_tools.register(only, control, runner, pipeline)
    audit_tools.register(only, audit, runner)
    if knowledge is not None:
        knowledge_tools.register(only, knowledge, runner)
    if graph is not None:
        graph_tools.register(only, graph, runner)
    prompts.register(mcp)
    # every tool offered, enabled or not, and anything registered on the server directly
    missing = unruled([*enabled_only.offered, *(t.name for t in mcp._tool_manager.list_tools())])
    if missing:
        raise RuntimeError(f"tool(s) {', '.join(missing)} have no rule in security/policy.py RULES; add one")
    make_strict(mcp)
    compact_tools(mcp)
    resources.register(mcp, svc, health)
    shell.mcp.listable = lambda names: visible(authorize.current(), names, authorize.policy)
    if own:
        shell.gate.open()  # nothing was answered before this server was complete
    return mcp
