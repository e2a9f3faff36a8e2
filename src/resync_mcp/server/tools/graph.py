"""Graph tools: what a failure blocks, what holds a job, and whether a deadline is at risk."""

# No `from __future__ import annotations`: the SDK evaluates these signatures at registration.

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from resync_mcp.server.tools import READ, Engine, Runner
from resync_mcp.services.graph import CriticalPathResult, GraphService, ImpactResult, RootCauseResult

JobRef = Annotated[
    str, Field(min_length=1, max_length=140, description="Job id (UUID) or JOBSTREAM.JOB (WORKSTATION#JOBSTREAM.JOB)")
]


def register(mcp: MCPServer, svc: GraphService, run: Runner) -> None:
    @mcp.tool(title="Impact of a failure", annotations=READ)
    async def impact_of_failure(job: JobRef, engine: Engine = None) -> ImpactResult:
        """Everything downstream that cannot run until this job succeeds: totals by job stream,
        the critical jobs and deadlines affected, and the nearest blocked jobs."""
        return await run("impact_of_failure", engine, {"job": job}, lambda: svc.impact(engine=engine, job=job))

    @mcp.tool(title="Root cause of a waiting job", annotations=READ)
    async def root_cause(job: JobRef, engine: Engine = None) -> RootCauseResult:
        """What actually holds this job: failed, held or cancelled predecessors, unanswered prompts,
        short resources, missing files, blocking workstations; not every ancestor."""
        return await run("root_cause", engine, {"job": job}, lambda: svc.root_cause(engine=engine, job=job))

    @mcp.tool(title="Critical path and deadline risk", annotations=READ)
    async def critical_path(
        target: Annotated[
            str, Field(min_length=1, max_length=140, description="A job (id or JOBSTREAM.JOB) or a job stream id")
        ],
        engine: Engine = None,
    ) -> CriticalPathResult:
        """The predecessor chain that drives the target's finish, its expected finish, the slack to
        its deadline and whether the deadline is at risk (estimated and actual durations)."""
        return await run(
            "critical_path", engine, {"target": target}, lambda: svc.critical_path(engine=engine, target=target)
        )
