"""Job actions: one job (rerun, hold, release, dependencies, cancel, kill, confirm, priority)
and the bulk form over a filter."""

from __future__ import annotations

import hashlib
from typing import Any

from resync_mcp.errors import InvalidArgument
from resync_mcp.notices import progress
from resync_mcp.services import filters as f
from resync_mcp.services.control import preconditions as pre
from resync_mcp.services.control.prep import (
    Ctx,
    Effect,
    Prepare,
    Prepared,
    _job,
    _job_prepared,
    _job_target,
    _state,
)
from resync_mcp.services.control.views import ActionTarget
from resync_mcp.tws.actions import HwaActions, Justification


def job_action(tool: str, action: str, effect: Effect, sentence: str) -> Prepare:
    """A plain PUT /plan/job/{id}/action/{action} tool."""

    async def prepare(ctx: Ctx) -> Prepared:
        job = await _job(ctx)

        async def send(acts: HwaActions, why: Justification) -> str:
            return (await acts.job_action(job.id, action, why)).id

        return _job_prepared(ctx, job, tool, sentence.format(name=job.name), send, effect)

    return prepare


async def rerun(ctx: Ctx) -> Prepared:
    job = await _job(ctx)
    a = ctx.args
    details: dict[str, Any] = {}
    if a.get("step"):
        details["stepName"] = a["step"]
    if a.get("from_job_definition"):
        details["jobDefinitionDbIdentifier"] = a["from_job_definition"]
    if a.get("start_time"):
        details["startTime"] = f.iso_instant(str(a["start_time"]), "start_time")
    if a.get("priority") is not None:
        details["priority"] = int(a["priority"])
    if a.get("with_successors"):
        details["successorsInfo"] = {"depth": int(a.get("successors_depth") or 1)}
    run = job.last_run

    async def send(acts: HwaActions, why: Justification) -> str:
        if run is None:
            raise InvalidArgument(f"Job {job.name} has no run to rerun.")
        return (await acts.rerun(run.id, why, details)).id

    extras = [k for k in ("step", "from_job_definition", "start_time", "priority") if a.get(k) not in (None, "")]
    what = f"rerun job {job.name} as a new run" + (f" ({', '.join(extras)} given)" if extras else "")
    if a.get("with_successors"):
        what += f", with its ended successors to depth {details['successorsInfo']['depth']}"
    return _job_prepared(ctx, job, "rerun_job", what, send, "frees")


async def release_dependencies(ctx: Ctx) -> Prepared:
    job = await _job(ctx)
    wanted = [str(d) for d in (ctx.args.get("dependencies") or [])]
    deps = job.dependencies or []
    known = {d.id: d for d in deps if d.id}
    unknown = [d for d in wanted if d not in known]
    if unknown:
        raise InvalidArgument(
            f"Job {job.name} has no dependency with id {unknown[0]!r}.",
            hint="get_job lists each dependency with its id; omit dependencies to release them all.",
        )

    async def send(acts: HwaActions, why: Justification) -> str:
        if not wanted:
            return (await acts.job_action(job.id, "release-all-dependencies", why)).id
        body = {"dependencies": [{"id": i, "dependencyType": known[i].dependency_type} for i in wanted]}
        return (await acts.job_action(job.id, "release-dependencies", why, body=body)).id

    what = (
        f"release all {len(deps)} dependencies of job {job.name}"
        if not wanted
        else f"release {len(wanted)} of the {len(deps)} dependencies of job {job.name}"
    )
    return _job_prepared(ctx, job, "release_job_dependencies", what, send, "frees")


async def cancel(ctx: Ctx) -> Prepared:
    pending = bool(ctx.args.get("pending"))
    prep = await job_action(
        "cancel_job",
        "cancel-pending" if pending else "cancel",
        "blocks",
        "cancel job {name} once its dependencies are resolved (cancel pending)" if pending else "cancel job {name}",
    )(ctx)
    return prep


async def confirm(ctx: Ctx) -> Prepared:
    status = str(ctx.args.get("status", "")).upper()
    if status not in ("SUCC", "ABEND"):
        raise InvalidArgument("status must be SUCC or ABEND.")
    job = await _job(ctx)
    conditions = [str(c) for c in (ctx.args.get("output_conditions") or [])]

    async def send(acts: HwaActions, why: Justification) -> str:
        body = {"conditions": conditions} if conditions else None
        return (await acts.job_action(job.id, f"confirm-{status.lower()}", why, body=body)).id

    what = f"confirm job {job.name} as {status}" + (f" with output conditions {conditions}" if conditions else "")
    return _job_prepared(ctx, job, f"confirm_job:{status}", what, send, "frees" if status == "SUCC" else "blocks")


async def priority(ctx: Ctx) -> Prepared:
    value = int(ctx.args["priority"])
    job = await _job(ctx)

    async def send(acts: HwaActions, why: Justification) -> str:
        return (await acts.job_action(job.id, "update-priority", why, params={"priority": value})).id

    async def reread() -> str:
        j = await ctx.client.get_job(job.id, fresh=True)
        return f"{_state(j)}, priority {j.priority}"

    return Prepared(
        _job_target(job).model_copy(update={"state": f"{_state(job)}, priority {job.priority}"}),
        job.last_run.id if job.last_run else None,
        pre.job_refusal("set_job_priority", job.internal_status),
        f"set the priority of job {job.name} from {job.priority} to {value}",
        send,
        reread,
        [job.id],
    )


# ------------------------------------------------------------------ job streams

BULK_WIRE = {
    "hold": "hold",
    "release": "release",
    "release_all_dependencies": "release-all-dependencies",
    "cancel": "cancel",
    "cancel_pending": "cancel-pending",
}


async def bulk(ctx: Ctx) -> Prepared:
    """One action on every job a filter selects: never a wildcard-everything filter, and never
    more jobs than the caller named in max_object_affected (itself capped by the settings)."""
    a = ctx.args
    action = str(a["action"])
    if action not in BULK_WIRE:
        raise InvalidArgument(f"action must be one of {', '.join(BULK_WIRE)}.")
    limit = int(a["max_object_affected"])
    if not 1 <= limit <= ctx.bulk_cap:
        raise InvalidArgument(f"max_object_affected must be between 1 and {ctx.bulk_cap} (security.bulk_max_objects).")
    stream = f.name_pattern(str(a["job_stream"]), "job stream") or ""
    if len(stream.replace("@", "")) < 2:
        raise InvalidArgument(
            "A bulk action needs a job stream pattern with at least two literal characters, never a bare wildcard.",
            hint="Narrow it (e.g. FIN_DAILY_*) and add status, name or workstation filters.",
        )
    oql = f.conjunction(
        [
            f.match("jobStreamName", stream),
            f.status_terms(
                a.get("status"), internal_field="lastRunCompositeStatus.status", common_field="lastRunCommonStatus"
            ),
            f.match("name", p) if (p := f.name_pattern(a.get("name"), "job name")) else None,
            f.match("workstation", "/" + p) if (p := f.name_pattern(a.get("workstation"), "workstation")) else None,
        ]
    )
    assert oql is not None
    page = await ctx.client.query_jobs(oql=oql, limit=ctx.bulk_cap + 1, fresh=True)
    total = page.count if page.count is not None else len(page.results)
    jobs = page.results
    counts: dict[str, int] = {}
    for j in jobs:
        counts[_state(j)] = counts.get(_state(j), 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"
    refusal = None
    if total == 0:
        refusal = "no job matches the filter"
    elif total > limit:
        refusal = f"{total} jobs match but max_object_affected is {limit}; narrow the filter or raise it knowingly"
    ready = sum(1 for j in jobs if j.internal_status in pre.NOT_STARTED)
    wire = BULK_WIRE[action]
    outcome: dict[str, Any] = {}

    # The write names the previewed jobs by id, a field every engine filters on (the spec's own
    # example), so it acts on exactly what the operator confirmed, never on a job that joined since.
    exact = "id IN [" + ", ".join(f"'{j.id}'" for j in jobs) + "]"

    async def send(acts: HwaActions, why: Justification) -> str:
        await progress(1, 3, f"Asking HWA to {action.replace('_', ' ')} {len(jobs)} job(s)")
        ok, failed = await acts.bulk_job_action(wire, exact, limit, why)
        await progress(2, 3, f"HWA answered: {len(ok)} done, {len(failed)} refused; reading their states back")
        outcome.update(ok=ok, failed=failed)
        shown = "; ".join(f"{i}: {m[:120]}" for i, m in failed[:5])
        return f"{len(ok)} done, {len(failed)} refused by HWA" + (f" ({shown})" if shown else "")

    async def reread() -> str:
        again = await ctx.client.query_jobs(oql=oql, limit=ctx.bulk_cap + 1, fresh=True)
        await progress(3, 3, "States read back")
        after: dict[str, int] = {}
        for j in again.results:
            after[_state(j)] = after.get(_state(j), 0) + 1
        return ", ".join(f"{n} {s}" for s, n in sorted(after.items())) or "none"

    # Bound to the exact selection: if a job joins, leaves or changes state, a token no longer fits.
    selection = ",".join(sorted(f"{j.id}:{_state(j)}" for j in jobs))
    return Prepared(
        ActionTarget(kind="selection", id=f"oql:{oql}"[:300], name=f"jobs of job streams {stream}", state=summary),
        hashlib.sha256(selection.encode()).hexdigest(),
        refusal,
        f"{action.replace('_', ' ')} {total} job(s) matching {oql} ({ready} not started yet; "
        "HWA refuses the others one by one)",
        send,
        reread,
        [*(j.id for j in jobs), *{j.job_stream_id for j in jobs if j.job_stream_id}],
    )
