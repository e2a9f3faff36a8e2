"""Each control tool as data: how to find its target (read uncached), whether the target's
state allows it, what it will do, how to send it, and what to read back afterwards."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from resync_mcp.errors import InvalidArgument, NotFound
from resync_mcp.services import filters as f
from resync_mcp.services.control import preconditions as pre
from resync_mcp.services.control.views import ActionTarget
from resync_mcp.services.plan import PlanService
from resync_mcp.tws.actions import HwaActions, Justification
from resync_mcp.tws.client import HwaClient, is_plan_id
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
def stream_action(tool: str, action: str, sentence: str) -> Prepare:
    async def prepare(ctx: Ctx) -> Prepared:
        ref = str(ctx.args["job_stream"])
        if not is_plan_id(ref):
            raise InvalidArgument("job_stream must be a job stream id (find_job_streams gives it).")
        stream = await ctx.client.get_job_stream(ref, fresh=True)
        state = stream.composite_status.status if stream.composite_status else None
        waiting = [j for j in stream.jobs or [] if j.internal_status in pre.NOT_STARTED]

        async def send(acts: HwaActions, why: Justification) -> str:
            return (await acts.stream_action(stream.id, action, why)).id

        async def reread() -> str:
            s = await ctx.client.get_job_stream(stream.id, fresh=True)
            return s.composite_status.status if s.composite_status and s.composite_status.status else "unknown"

        return Prepared(
            ActionTarget(kind="jobstream", id=stream.id, name=stream.name, state=state or "unknown"),
            None,
            pre.stream_refusal(len(waiting), state),
            sentence.format(name=stream.name, n=len(waiting)),
            send,
            reread,
            [stream.id, *(j.id for j in stream.jobs or [])],
        )

    return prepare


# ------------------------------------------------------------------ submits
async def _definition(ctx: Ctx, kind: str, ref: str) -> tuple[str, str]:
    m = _DEF_NAME.match(ref.strip()) if isinstance(ref, str) else None
    if m is None:
        raise InvalidArgument(
            f"{ref[:60]!r} is not a definition name.", hint="Give NAME, WORKSTATION#NAME or WORKSTATION#/FOLDER/NAME."
        )
    ws, folder, name = m["ws"] or "@", m["folder"] or "/@/", m["name"].upper()
    found = await HwaActions(ctx.client).find_model(kind, f"/@/{ws.upper()}#{folder.upper()}{name}")
    exact = [o for o in found if str(o.definition.get("name", "")).upper() == name and o.definition.get("id")]
    if not exact:
        raise NotFound(f"No {kind} definition named {ref!r} on engine '{ctx.client.engine}'.")
    if len(exact) > 1:
        keys = "; ".join(str(o.key) for o in exact[:5])
        raise InvalidArgument(f"Several {kind} definitions match {ref!r}: {keys}.", hint="Add WORKSTATION# to choose.")
    return str(exact[0].definition["id"]), str(exact[0].key or name)


async def submit_stream(ctx: Ctx) -> Prepared:
    model_id, key = await _definition(ctx, "jobstream", str(ctx.args["job_stream"]))
    a = ctx.args
    options: dict[str, Any] = {}
    if a.get("alias"):
        options["alias"] = _plain_name(str(a["alias"]), "alias")
    if a.get("input_arrival_time"):
        options["inputArrivalTime"] = f.iso_instant(str(a["input_arrival_time"]), "input_arrival_time")
    if a.get("variables"):
        options["parameters"] = {str(k): str(v) for k, v in dict(a["variables"]).items()}
    created: list[str] = []

    async def send(acts: HwaActions, why: Justification) -> str:
        created.extend(await acts.submit_stream(model_id, why, options))
        return ", ".join(created)

    async def reread() -> str:
        if not created:
            return "nothing created"
        s = await ctx.client.get_job_stream(created[0], fresh=True)
        status = s.composite_status.status if s.composite_status else "unknown"
        return f"job stream instance {s.name} ({s.id}) is {status}"

    return Prepared(
        ActionTarget(kind="definition", id=model_id, name=key, state="defined"),
        None,
        None,
        f"submit job stream {key} into the plan" + (f" as {options['alias']}" if "alias" in options else ""),
        send,
        reread,
    )


async def submit_job(ctx: Ctx) -> Prepared:
    model_id, key = await _definition(ctx, "jobdefinition", str(ctx.args["job"]))
    a = ctx.args
    options: dict[str, Any] = {}
    if a.get("alias"):
        options["alias"] = _plain_name(str(a["alias"]), "alias")
    if a.get("job_stream"):
        if not is_plan_id(str(a["job_stream"])):
            raise InvalidArgument("job_stream must be a job stream id (find_job_streams gives it).")
        options["jobStreamId"] = str(a["job_stream"])
    created: list[str] = []

    async def send(acts: HwaActions, why: Justification) -> str:
        created.append((await acts.submit_job(model_id, why, options)).id)
        return created[-1]

    async def reread() -> str:
        j = await ctx.client.get_job(created[0], fresh=True)
        return f"job {j.job_stream_name}.{j.name} ({j.id}) is {_state(j)}"

    where = f"job stream {options['jobStreamId']}" if "jobStreamId" in options else "the workstation's JOBS stream"
    return Prepared(
        ActionTarget(kind="definition", id=model_id, name=key, state="defined"),
        None,
        None,
        f"submit job {key} into {where}" + (f" as {options['alias']}" if "alias" in options else ""),
        send,
        reread,
    )


# ------------------------------------------------------------------ prompts, workstations
async def reply(ctx: Ctx) -> Prepared:
    ref = str(ctx.args["prompt"])
    if not is_plan_id(ref):
        raise InvalidArgument("prompt must be a prompt id (list_prompts gives it).")
    answer = bool(ctx.args["answer"])
    prompt = await ctx.client.get_prompt(ref, fresh=True)

    async def send(acts: HwaActions, why: Justification) -> str:
        return (await acts.reply_prompt(prompt.id, answer, why)).id

    async def reread() -> str:
        return (await ctx.client.get_prompt(prompt.id, fresh=True)).status or "unknown"

    return Prepared(
        ActionTarget(
            kind="prompt",
            id=prompt.id,
            name=f"{prompt.name}: {prompt.text or ''}"[:200],
            state=prompt.status or "unknown",
        ),
        None,
        pre.prompt_refusal(prompt.status),
        f"answer prompt {prompt.name} {'YES' if answer else 'NO'}"
        + ("; the jobs waiting on it may start" if answer else ""),
        send,
        reread,
        [prompt.id, *([prompt.job_id] if prompt.job_id else [])],
    )


async def _workstation(ctx: Ctx) -> Any:
    ref = str(ctx.args["workstation"]).strip().lstrip("/")
    if is_plan_id(ref):
        return await ctx.client.get_workstation(ref, fresh=True)
    if not _WS_NAME.match(ref):
        raise InvalidArgument("workstation must be a workstation name or id.")
    page = await ctx.client.query_workstations(oql=f.match("name", ref.upper()), limit=2)
    if not page.results:
        raise NotFound(f"No workstation {ref} in the plan of engine '{ctx.client.engine}'.")
    return await ctx.client.get_workstation(page.results[0].id, fresh=True)


def workstation_action(tool: str, action: str, param: str | None, sentence: str) -> Prepare:
    async def prepare(ctx: Ctx) -> Prepared:
        ws = await _workstation(ctx)
        value = int(ctx.args[param]) if param else None
        states = list(ws.active_states or [])

        async def send(acts: HwaActions, why: Justification) -> str:
            params = {param: value} if param else None
            return (await acts.workstation_action(ws.id, action, why, params)).id

        async def reread() -> str:
            w = await ctx.client.get_workstation(ws.id, fresh=True)
            return _ws_state(w)

        return Prepared(
            ActionTarget(kind="workstation", id=ws.id, name=ws.name, state=_ws_state(ws)),
            None,
            workstation_refusal(tool, states, value),
            sentence.format(name=ws.name, value=value, fence=ws.fence, limit=ws.limit),
            send,
            reread,
            [ws.id],
        )

    return prepare


def workstation_refusal(tool: str, states: list[str], value: int | None) -> str | None:
    return pre.workstation_refusal(tool, states, value)


def _ws_state(ws: Any) -> str:
    states = ",".join(s for s in (ws.active_states or []) if s in ("LINKED", "RUNNING")) or "UNLINKED,STOPPED"
    return f"{states}; fence {ws.fence}, limit {ws.limit}"


async def submit_adhoc(ctx: Ctx) -> Prepared:
    ws = await _workstation(ctx)
    a = ctx.args
    command = str(a["command"])
    if not command.strip() or len(command) > 4096 or any(ord(c) < 32 and c not in "\t" for c in command):
        raise InvalidArgument("command must be one line of at most 4096 characters.")
    name = _plain_name(str(a["name"]), "name") if a.get("name") else None
    options: dict[str, Any] = {
        "workstationKey": f"/{ws.name}",
        "task": {str(a.get("task_type") or "UNIX"): {"taskString": command, "isCommand": "true"}},
    }
    if a.get("user"):
        options["task"][str(a.get("task_type") or "UNIX")]["userName"] = str(a["user"])
    if name:
        options["alias"] = name
    found: list[str] = []

    async def send(acts: HwaActions, why: Justification) -> str:
        composite = await acts.submit_adhoc(why, options)
        # The engine answers WS;JOBS;NAME, not the UUID; look the job up to report (and act on) it.
        parts = composite.split(";")
        job_name = parts[-1] if len(parts) == 3 else (name or "")
        page = await ctx.client.query_jobs(
            oql=f.conjunction([f.match("name", job_name), f.match("jobStreamName", "JOBS")]), limit=20
        )
        mine = [j for j in page.results if (j.workstation or "").lstrip("/") == ws.name]
        if mine:
            found.append(mine[-1].id)
        return f"{composite} = {found[0]}" if found else composite

    async def reread() -> str:
        if not found:
            return "submitted; the job's id could not be found yet"
        j = await ctx.client.get_job(found[0], fresh=True)
        return f"ad hoc job {j.name} ({j.id}) is {_state(j)}"

    return Prepared(
        ActionTarget(kind="workstation", id=ws.id, name=ws.name, state=_ws_state(ws)),
        None,
        None,
        f"run the command {command[:200]!r} on {ws.name} as an ad hoc job in its JOBS stream",
        send,
        reread,
    )


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

    async def send(acts: HwaActions, why: Justification) -> str:
        ok, failed = await acts.bulk_job_action(wire, oql, limit, why)
        outcome.update(ok=ok, failed=failed)
        shown = "; ".join(f"{i}: {m[:120]}" for i, m in failed[:5])
        return f"{len(ok)} done, {len(failed)} refused by HWA" + (f" ({shown})" if shown else "")

    async def reread() -> str:
        again = await ctx.client.query_jobs(oql=oql, limit=ctx.bulk_cap + 1, fresh=True)
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


PREPARE: dict[str, Prepare] = {
    "bulk_job_action": bulk,
    "rerun_job": rerun,
    "hold_job": job_action("hold_job", "hold", "blocks", "hold job {name}: it will not start until released"),
    "release_job": job_action("release_job", "release", "frees", "release job {name}: it may start at once"),
    "release_job_dependencies": release_dependencies,
    "cancel_job": cancel,
    "kill_job": job_action("kill_job", "kill", "blocks", "kill the running job {name}; it will end ABEND"),
    "confirm_job": confirm,
    "set_job_priority": priority,
    "hold_job_stream": stream_action("hold_job_stream", "hold", "hold the {n} waiting jobs of job stream {name}"),
    "release_job_stream": stream_action(
        "release_job_stream", "release", "release job stream {name} ({n} waiting jobs)"
    ),
    "cancel_job_stream": stream_action(
        "cancel_job_stream", "cancel", "cancel the {n} waiting jobs of job stream {name}"
    ),
    "submit_job_stream": submit_stream,
    "submit_job": submit_job,
    "submit_adhoc_job": submit_adhoc,
    "reply_prompt": reply,
    "set_workstation_fence": workstation_action(
        "set_workstation_fence", "update-fence", "fence", "set the fence of {name} from {fence} to {value}"
    ),
    "set_workstation_limit": workstation_action(
        "set_workstation_limit", "update-limit", "limit", "set the job limit of {name} from {limit} to {value}"
    ),
    "link_workstation": workstation_action("link_workstation", "link", None, "link workstation {name}"),
    "unlink_workstation": workstation_action(
        "unlink_workstation", "unlink", None, "unlink workstation {name}: no new jobs reach it until relinked"
    ),
    "start_workstation": workstation_action("start_workstation", "start", None, "start workstation {name}"),
    "stop_workstation": workstation_action(
        "stop_workstation", "stop", None, "stop workstation {name}: its processes stop, no new jobs start there"
    ),
}
