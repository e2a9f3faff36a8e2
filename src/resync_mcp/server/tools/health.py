"""The server_health tool."""

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

from resync_mcp.server.tools import Runner
from resync_mcp.services.health import HealthService
from resync_mcp.services.views import HealthResult

# Reads only this server's own state: nothing outside it is touched.
LOCAL_READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


def register(mcp: MCPServer, health: HealthService, run: Runner) -> None:
    @mcp.tool(title="Server health", annotations=LOCAL_READ)
    async def server_health() -> HealthResult:
        """When engine calls fail or data is stale: breaker per engine, cache, upstream latency, in-flight calls."""

        async def report() -> HealthResult:
            return health.report()

        return await run("server_health", None, {}, report)
