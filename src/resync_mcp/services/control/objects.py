"""Actions on job streams, definitions (submits), prompts and workstations."""

from __future__ import annotations

from typing import Any

from resync_mcp.errors import InvalidArgument, NotFound
from resync_mcp.services import filters as f
from resync_mcp.services.control import preconditions as pre
from resync_mcp.services.control.prep import (
    _DEF_NAME,
    _WS_NAME,
    Ctx,
    Prepare,
    Prepared,
    _plain_name,
    _state,
)
from resync_mcp.services.control.views import ActionTarget
from resync_mcp.tws.actions import HwaActions, Justification
from resync_mcp.tws.client import is_plan_id


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
            pre.workstation_refusal(tool, states, value),
            sentence.format(name=ws.name, value=value, fence=ws.fence, limit=ws.limit),
            send,
            reread,
            [ws.id],
        )

    return prepare


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
