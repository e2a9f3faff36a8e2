"""Read tools over the plan: summary, jobs, job streams, workstations, resources, prompts."""

# No `from __future__ import annotations` here: the SDK evaluates these signatures at
# registration, and Limit/Statuses are local to register() because they carry settings.

from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from resync_mcp.config import LimitSettings
from resync_mcp.server.tools import READ, Engine, Runner
from resync_mcp.services.plan import PlanService
from resync_mcp.services.views import (
    DependenciesResult,
    FindJobsResult,
    FindJobStreamsResult,
    JobDetail,
    JobLogResult,
    JobStreamDetail,
    PlanSummary,
    PromptsResult,
    ResourcesResult,
    WorkstationsResult,
)

Pattern = Annotated[str | None, Field(default=None, max_length=64)]  # wildcards: see the instructions
Cursor = Annotated[str | None, Field(default=None, max_length=200, description="next_cursor from the previous page")]
JobRef = Annotated[
    str,
    Field(
        min_length=1, max_length=140, description="Job id (UUID) or JOBSTREAM.JOB, optionally WORKSTATION#JOBSTREAM.JOB"
    ),
]


def register(mcp: MCPServer, svc: PlanService, run: Runner, limits: LimitSettings) -> None:
    Limit = Annotated[
        int | None,
        Field(
            default=None,
            ge=1,
            le=limits.max_limit,
            description=f"Page size, 1-{limits.max_limit} (default {limits.default_limit})",
        ),
    ]
    Statuses = Annotated[
        list[str] | None,
        Field(
            default=None,
            max_length=20,
            description="Common (ERROR, RUNNING, WAITING, HELD, ...) or "
            "internal (ABEND, FAIL, EXEC, HOLD, ...) statuses",
        ),
    ]

    @mcp.tool(title="Plan summary", annotations=READ)
    async def plan_summary(engine: Engine = None) -> PlanSummary:
        """Start here: the plan's jobs counted by status and workstation, with late, critical and held counts."""
        return await run("plan_summary", engine, {}, lambda: svc.plan_summary(engine=engine))

    @mcp.tool(title="Find jobs", annotations=READ)
    async def find_jobs(
        status: Statuses = None,
        name: Pattern = None,
        job_stream: Pattern = None,
        workstation: Pattern = None,
        folder: Annotated[
            str | None, Field(default=None, max_length=200, description="Folder path, e.g. /FINANCE/")
        ] = None,
        critical: Annotated[
            bool | None, Field(default=None, description="Only critical (true) or non-critical jobs")
        ] = None,
        late: Annotated[bool | None, Field(default=None, description="Only late (true) or on-time jobs")] = None,
        since: Annotated[
            str | None,
            Field(default=None, max_length=40, description="Job stream input arrival at or after (ISO-8601 UTC)"),
        ] = None,
        until: Annotated[
            str | None,
            Field(default=None, max_length=40, description="Job stream input arrival at or before (ISO-8601 UTC)"),
        ] = None,
        sort: Annotated[
            str | None,
            Field(
                default=None,
                max_length=20,
                description="name, job_stream, sched_time, priority, workstation or status; prefix '-' for descending",
            ),
        ] = None,
        limit: Limit = None,
        cursor: Cursor = None,
        engine: Engine = None,
    ) -> FindJobsResult:
        """List jobs by status, name, job stream, workstation, folder, critical/late or time
        window (failures: status=["ERROR"])."""
        args = {"status": status, "name": name, "job_stream": job_stream, "workstation": workstation}
        return await run(
            "find_jobs",
            engine,
            args,
            lambda: svc.find_jobs(
                engine=engine,
                status=status,
                name=name,
                job_stream=job_stream,
                workstation=workstation,
                folder=folder,
                critical=critical,
                late=late,
                since=since,
                until=until,
                sort=sort,
                limit=limit,
                cursor=cursor,
            ),
        )

    @mcp.tool(title="Get job", annotations=READ)
    async def get_job(job: JobRef, engine: Engine = None) -> JobDetail:
        """One job before you explain or act on it: status, last run and return code, times,
        dependencies, allowed actions."""
        return await run("get_job", engine, {"job": job}, lambda: svc.get_job(engine=engine, job=job))

    @mcp.tool(title="Get job log", annotations=READ)
    async def get_job_log(
        job: JobRef,
        run_attempt: Annotated[
            int | None, Field(default=None, ge=1, le=1000, description="Run attempt (default: the latest)")
        ] = None,
        tail: Annotated[
            int | None,
            Field(
                default=None,
                ge=1,
                le=limits.log_max_lines,
                description=f"Last N lines (default {limits.log_default_lines})",
            ),
        ] = None,
        from_line: Annotated[int | None, Field(default=None, ge=1, description="First line, 1-based")] = None,
        to_line: Annotated[int | None, Field(default=None, ge=1, description="Last line, inclusive")] = None,
        search: Annotated[
            str | None,
            Field(default=None, max_length=200, description="Regular expression (case-insensitive) to search for"),
        ] = None,
        context: Annotated[int, Field(default=2, ge=0, le=10, description="Lines around each match")] = 2,
        max_bytes: Annotated[
            int | None,
            Field(default=None, ge=256, le=limits.log_max_bytes, description="Cap on the lines returned, in bytes"),
        ] = None,
        engine: Engine = None,
    ) -> JobLogResult:
        """Why a job failed, from its log: a bounded view plus the first error lines and the JOBINFO summary."""
        return await run(
            "get_job_log",
            engine,
            {"job": job},
            lambda: svc.get_job_log(
                engine=engine,
                job=job,
                run=run_attempt,
                tail=tail,
                from_line=from_line,
                to_line=to_line,
                search=search,
                context=context,
                max_bytes=max_bytes,
            ),
        )

    @mcp.tool(title="Job dependencies", annotations=READ)
    async def job_dependencies(
        job: JobRef,
        direction: Annotated[
            Literal["predecessors", "successors", "both"], Field(default="both", description="Which way to walk")
        ] = "both",
        depth: Annotated[
            int, Field(default=1, ge=1, le=limits.max_dependency_depth, description="How many levels to walk")
        ] = 1,
        engine: Engine = None,
    ) -> DependenciesResult:
        """A job's direct predecessors or successors with their statuses (for the whole chain:
        impact_of_failure, root_cause)."""
        return await run(
            "job_dependencies",
            engine,
            {"job": job},
            lambda: svc.job_dependencies(engine=engine, job=job, direction=direction, depth=depth),
        )

    @mcp.tool(title="Find job streams", annotations=READ)
    async def find_job_streams(
        status: Statuses = None,
        name: Pattern = None,
        workstation: Pattern = None,
        folder: Annotated[str | None, Field(default=None, max_length=200, description="Folder path")] = None,
        sort: Annotated[
            str | None,
            Field(default=None, max_length=20, description="name, sched_time, priority or status; '-' for descending"),
        ] = None,
        limit: Limit = None,
        cursor: Cursor = None,
        engine: Engine = None,
    ) -> FindJobStreamsResult:
        """List job stream instances by status, name, workstation and folder."""
        return await run(
            "find_job_streams",
            engine,
            {"name": name},
            lambda: svc.find_job_streams(
                engine=engine,
                status=status,
                name=name,
                workstation=workstation,
                folder=folder,
                sort=sort,
                limit=limit,
                cursor=cursor,
            ),
        )

    @mcp.tool(title="Get job stream", annotations=READ)
    async def get_job_stream(
        job_stream: Annotated[
            str,
            Field(
                min_length=1, max_length=100, description="Job stream id, or its name (WORKSTATION#NAME if ambiguous)"
            ),
        ],
        engine: Engine = None,
    ) -> JobStreamDetail:
        """One job stream instance with its jobs and their statuses."""
        return await run(
            "get_job_stream",
            engine,
            {"job_stream": job_stream},
            lambda: svc.get_job_stream(engine=engine, job_stream=job_stream),
        )

    @mcp.tool(title="List workstations", annotations=READ)
    async def list_workstations(
        name: Pattern = None,
        linked: Annotated[
            bool | None, Field(default=None, description="Only linked (true) or unlinked (false)")
        ] = None,
        limit: Limit = None,
        cursor: Cursor = None,
        engine: Engine = None,
    ) -> WorkstationsResult:
        """Workstations with link state, fence and limit: why jobs there do not start."""
        return await run(
            "list_workstations",
            engine,
            {"name": name},
            lambda: svc.list_workstations(engine=engine, name=name, linked=linked, limit=limit, cursor=cursor),
        )

    @mcp.tool(title="List resources", annotations=READ)
    async def list_resources(
        name: Pattern = None, limit: Limit = None, cursor: Cursor = None, engine: Engine = None
    ) -> ResourcesResult:
        """Resources with quantity, availability and holders: why jobs wait for one."""
        return await run(
            "list_resources",
            engine,
            {"name": name},
            lambda: svc.list_resources(engine=engine, name=name, limit=limit, cursor=cursor),
        )

    @mcp.tool(title="List prompts", annotations=READ)
    async def list_prompts(
        waiting_only: Annotated[bool, Field(default=False, description="Only prompts waiting for a reply")] = False,
        limit: Limit = None,
        cursor: Cursor = None,
        engine: Engine = None,
    ) -> PromptsResult:
        """Prompts in the plan and those waiting for a reply."""
        return await run(
            "list_prompts",
            engine,
            {"waiting_only": waiting_only},
            lambda: svc.list_prompts(engine=engine, waiting_only=waiting_only, limit=limit, cursor=cursor),
        )
