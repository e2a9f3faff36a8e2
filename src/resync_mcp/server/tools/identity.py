"""The whoami tool: who the server thinks is calling, and what that grants, so that an
assistant can explain a refusal (and a person can fix the token or the role)."""

from datetime import datetime

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel

from resync_mcp.clock import Clock
from resync_mcp.server.pipeline import AuthorizeStage
from resync_mcp.server.tools import Runner
from resync_mcp.server.tools.health import LOCAL_READ


class Identity(BaseModel):
    as_of: datetime
    principal: str
    via: str  # local (this machine's user), static (a service token), oauth, or none (HTTP without auth)
    issuer: str | None
    client_id: str | None
    roles: list[str]
    scopes: list[str]
    toolsets: list[str]
    tools: list[str]  # the tools this caller may use
    engines: list[str]
    default_engine: str | None
    read_only: bool


def register(
    mcp: MCPServer, run: Runner, authorize: AuthorizeStage, engines: list[str], default: str | None, clock: Clock
) -> None:
    @mcp.tool(title="Who am I", annotations=LOCAL_READ)
    async def whoami() -> Identity:
        """Your identity as this server sees it, your roles, toolsets and tools, and the engines:
        use it to explain a refusal."""

        async def answer() -> Identity:
            p = authorize.current()
            return Identity(
                as_of=clock.now(),
                principal=p.id,
                via=p.via,
                issuer=p.issuer,
                client_id=p.client_id,
                roles=sorted(p.roles),
                scopes=sorted(p.scopes),
                toolsets=sorted(p.toolsets()),
                tools=[t.name for t in await mcp.list_tools()],  # what tools/list shows this caller
                engines=engines,
                default_engine=default,
                read_only=authorize.policy.read_only,
            )

        return await run("whoami", None, {}, answer)
