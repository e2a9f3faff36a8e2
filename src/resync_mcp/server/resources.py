"""Resources: the plan summary, a job, a job stream and a job log as URI templates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from pydantic import BaseModel

from resync_mcp.errors import ResyncError
from resync_mcp.services.health import HealthService
from resync_mcp.services.plan import PlanService


async def _json(fn: Callable[[], Awaitable[BaseModel]]) -> str:
    try:
        result = await fn()
    except ResyncError as exc:
        raise ResourceError(exc.for_model()) from None
    return result.model_dump_json(indent=1)


def register(mcp: MCPServer, svc: PlanService, health: HealthService) -> None:
    @mcp.resource(
        "hwa://server/health",
        name="server_health",
        mime_type="application/json",
        description="Breaker state, cache counts and upstream latency per engine.",
    )
    async def server_health() -> str:
        return health.report().model_dump_json(indent=1)

    @mcp.resource(
        "hwa://{engine}/plan/summary",
        name="plan_summary",
        mime_type="application/json",
        description="Counts of the engine's current plan by status and workstation, late/critical/held.",
    )
    async def plan_summary(engine: str) -> str:
        return await _json(lambda: svc.plan_summary(engine=engine))

    @mcp.resource(
        "hwa://{engine}/job/{job_id}",
        name="job",
        mime_type="application/json",
        description="One job in the plan: status, last run, dependencies and allowed actions.",
    )
    async def job(engine: str, job_id: str) -> str:
        return await _json(lambda: svc.get_job(engine=engine, job=job_id))

    @mcp.resource(
        "hwa://{engine}/jobstream/{jobstream_id}",
        name="job_stream",
        mime_type="application/json",
        description="One job stream instance with its jobs.",
    )
    async def job_stream(engine: str, jobstream_id: str) -> str:
        return await _json(lambda: svc.get_job_stream(engine=engine, job_stream=jobstream_id))

    @mcp.resource(
        "hwa://{engine}/job/{job_id}/log",
        name="job_log",
        mime_type="application/json",
        description="The last lines of a job's latest log, its first errors and JOBINFO summary.",
    )
    async def job_log(engine: str, job_id: str) -> str:
        return await _json(lambda: svc.get_job_log(engine=engine, job=job_id))
