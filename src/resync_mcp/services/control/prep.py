"""What every control tool prepares before acting: its target read uncached, whether its state
allows the action, what it will do, how to send it, and what to read back afterwards."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from resync_mcp.errors import InvalidArgument
from resync_mcp.services import filters as f
from resync_mcp.services.control import preconditions as pre
from resync_mcp.services.control.views import ActionTarget
from resync_mcp.services.plan import PlanService
from resync_mcp.tws.actions import HwaActions, Justification
from resync_mcp.tws.client import HwaClient
from resync_mcp.tws.models import JobInPlanV2

Send = Callable[[HwaActions, Justification], Awaitable[str]]
Effect = Literal["frees", "blocks"]
_WS_NAME = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
_DEF_NAME = re.compile(
    r"^(?:(?P<ws>[A-Za-z0-9_-]{1,16})#)?(?P<folder>/(?:[A-Za-z0-9_-]+/)*)?(?P<name>[A-Za-z0-9_-]{1,40})$"
)


@dataclass
class Prepared:
    target: ActionTarget
    run: str | None  # what a confirmation is bound to besides the object (a job's last run)
    refusal: str | None
    action: str
    send: Send
    reread: Callable[[], Awaitable[str]]
    invalidate: list[str] = field(default_factory=list)
    job: JobInPlanV2 | None = None  # for the downstream effect
    effect: Effect | None = None


@dataclass
class Ctx:
    client: HwaClient
    plan: PlanService
    args: Mapping[str, Any]
    bulk_cap: int = 50


Prepare = Callable[[Ctx], Awaitable[Prepared]]


def _plain_name(value: str, what: str) -> str:
    name = f.name_pattern(value, what)
    if name is None or "@" in name:
        raise InvalidArgument(f"The {what} must be a plain name: letters, digits, '_' or '-', no wildcard.")
    return name


def _state(job: JobInPlanV2) -> str:
    return job.internal_status or "unknown"


async def _job(ctx: Ctx) -> JobInPlanV2:
    return await ctx.plan.resolve_job(ctx.client, str(ctx.args["job"]), fresh=True)


def _job_target(job: JobInPlanV2) -> ActionTarget:
    return ActionTarget(kind="job", id=job.id, name=job.name, job_stream=job.job_stream_name, state=_state(job))


def _job_prepared(
    ctx: Ctx, job: JobInPlanV2, refusal_key: str, action: str, send: Send, effect: Effect | None
) -> Prepared:
    """A job action's preparation: bound to the job's current run; drops the job and its stream."""
    return Prepared(
        _job_target(job),
        job.last_run.id if job.last_run else None,
        pre.job_refusal(refusal_key, job.internal_status),
        action,
        send,
        _job_reread(ctx, job.id),
        [job.id, *([job.job_stream_id] if job.job_stream_id else [])],
        job,
        effect,
    )


def _job_reread(ctx: Ctx, job_id: str) -> Callable[[], Awaitable[str]]:
    async def reread() -> str:
        return _state(await ctx.client.get_job(job_id, fresh=True))

    return reread
