"""Graph tools: what a failure blocks, what holds a job, and whether a deadline is at risk."""

# No `from __future__ import annotations`: the SDK evaluates these signatures at registration.

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from resync_mcp.server.tools import READ, Engine, Runner
from resync_mcp.services.graph import GraphService
from resync_mcp.services.graph_views import CriticalPathResult, DeadlineRisks, ImpactResult, RootCauseResult

JobRef = Annotated[
    str, Field(min_length=1, max_length=140, description="Job id (UUID) or JOBSTREAM.JOB (WORKSTATION#JOBSTREAM.JOB)")
]


def register(mcp: MCPServer, svc: GraphService, run: Runner) -> None:
    @mcp.tool(title="Impact of a failure", annotations=READ)
    async def impact_of_failure(job: JobRef, engine: Engine = None) -> ImpactResult:
        """Downstream of a failed or late job: what cannot run until it succeeds, by job stream,
        with the critical jobs and deadlines affected."""
        return await run("impact_of_failure", engine, {"job": job}, lambda: svc.impact(engine=engine, job=job))

    @mcp.tool(title="Root cause of a waiting job", annotations=READ)
    async def root_cause(job: JobRef, engine: Engine = None) -> RootCauseResult:
        """Upstream of a waiting job: what actually holds it (failed or held predecessors, prompts,
        resources, files, workstations), not every ancestor."""
        return await run("root_cause", engine, {"job": job}, lambda: svc.root_cause(engine=engine, job=job))

    @mcp.tool(title="Critical path and deadline risk", annotations=READ)
    async def critical_path(
        target: Annotated[
            str, Field(min_length=1, max_length=140, description="A job (id or JOBSTREAM.JOB) or a job stream id")
        ],
        engine: Engine = None,
    ) -> CriticalPathResult:
        """Will this job meet its deadline: the predecessor chain that drives its finish, the
        expected finish and the slack."""
        return await run(
            "critical_path", engine, {"target": target}, lambda: svc.critical_path(engine=engine, target=target)
        )

    @mcp.tool(title="Deadlines at risk across the plan", annotations=READ)
    async def deadlines_at_risk(
        limit: Annotated[int, Field(ge=1, le=50, description="How many to list")] = 10, engine: Engine = None
    ) -> DeadlineRisks:
        """Every unfinished job expected to miss its deadline, least slack first. Answers at once:
        the whole plan is read in the background, and until then it says how far that is."""
        return await run(
            "deadlines_at_risk", engine, {"limit": limit}, lambda: svc.deadlines_at_risk(engine=engine, limit=limit)
        )
