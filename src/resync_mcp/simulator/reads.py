"""The simulator's plan read routes: jobs (query, count, one, job log), job streams,
workstations, resources and prompts, as ``GET /plan/...`` with the spec's paging and 404 texts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from resync_mcp.clock import iso
from resync_mcp.simulator import render
from resync_mcp.simulator.core import Simulator
from resync_mcp.simulator.joblog import render_log
from resync_mcp.simulator.oql import ANY, Index, plan_filter
from resync_mcp.simulator.web import API, BadRequest, composite_key_error, error, guarded, int_param, paginate, select


def job_index(sim: Simulator, now: datetime) -> tuple[dict[str, Any], Index]:
    """The job fields at plan time ``now`` and the index over them (kept as the plan allows)."""
    plan = sim.plan
    fields = sim.memo("job fields", lambda: render.job_fields(plan, now))
    index = sim.shaped("job index", lambda: Index(plan.jobs, fields, render.STATIC_JOB_FIELDS))
    return fields, index.retarget(fields, plan.version)


# What a one-job graph question and a refresh query by: ready before anyone asks, as an engine's
# own indexes are. (The name, stream and folder indexes are built on their first use.)
WARM = ("id", "jobStreamId", "dependencies.jobId", "dependencies.jobStreamId")


def warm_indexes(sim: Simulator) -> None:
    """Build the indexes of the fields in ``WARM`` (they change only with the plan's shape)."""
    _, index = job_index(sim, sim.now())  # static fields: no evaluation needed
    for name in WARM:
        index.positions(name, [])


def job_selector(sim: Simulator) -> Callable[[Request], list[Any]]:
    """The jobs a request's ``oql`` and ``plan_filter`` select (reads and bulk actions share it)."""
    plan = sim.plan

    def select_jobs(request: Request) -> list[Any]:
        """Kept until the plan changes: the next pages of a query, and a repeated query, do not
        filter 100,000 jobs again; the first filter on a field builds its index."""
        now = sim.state()
        params = request.query_params
        key = ("jobs", params.get("oql"), params.get("plan_filter"), sim.oql_fields)
        return sim.memo(key, lambda: _select(request, now))

    def _select(request: Request, now: Any) -> list[Any]:
        # The selector's workstation is the job stream's, as in WS#JOBSTREAM.JOB identifiers.
        selector = request.query_params.get("plan_filter")
        pred = plan_filter(selector, "job")

        def keep(j: Any) -> bool:
            stream = plan.streams[j.stream]
            return pred(plan.workstations[stream.workstation].name, stream.folder, stream.name, j.name)

        fields, index = job_index(sim, now)
        return select(sim, request, plan.jobs, fields, "job", None if pred is ANY else keep, index)

    return select_jobs


def read_routes(sim: Simulator) -> list[Route]:
    plan = sim.plan
    select_jobs = job_selector(sim)

    async def query_jobs(request: Request) -> Response:
        now = sim.state()
        with_deps = request.headers.get("scope", "WHOLE_NO_DEPENDENCIES") == "WHOLE"
        items = select_jobs(request)
        return paginate(request, items, lambda j: render.render_job(plan, j, now, with_deps=with_deps))

    async def count_jobs(request: Request) -> Response:
        sim.state()
        pred = plan_filter(request.query_params.get("plan_filter"), "job")
        items = plan.jobs
        if pred is not ANY:
            items = [
                j
                for j in plan.jobs
                if pred(
                    plan.workstations[plan.streams[j.stream].workstation].name,
                    plan.streams[j.stream].folder,
                    plan.streams[j.stream].name,
                    j.name,
                )
            ]
        grouped: dict[str, int] = {}
        groups = [g for g in request.query_params.get("grouping_filters", "").split(",") if g]
        for g in groups:
            if g not in ("workstation", "status", "folder"):
                raise BadRequest(f"Unknown grouping filter {g!r}; use workstation, status or folder.")
        of: dict[str, Callable[[Any], str]] = {
            "workstation": lambda j: plan.workstations[j.workstation].key,
            "status": lambda j: j.status,
            "folder": lambda j: plan.streams[j.stream].folder,
        }
        for g in groups:
            grouped.update((f"{g}:{key}", n) for key, n in Counter(map(of[g], items)).items())
        return JSONResponse({"count": len(items), "groupedCount": grouped})

    async def get_job(request: Request) -> Response:
        now = sim.state()
        raw = request.path_params["job_id"]
        job = plan.by_id.get(raw)
        if job is None:
            bad_key = composite_key_error(raw)
            if bad_key is not None:
                raise bad_key
            return error(404, "No job with the provided ID was found in the plan.")
        return JSONResponse(render.render_job(plan, job, now, with_deps=True))

    async def job_log(request: Request) -> Response:
        now = sim.state()
        found = plan.run_index.get(request.path_params["run_id"])
        if found is None:
            return error(404, "No job run instances with the provided ID were found in the plan.")
        job, attempt = found
        text = render_log(plan, job, attempt, now)
        if text is None:
            return error(404, "The job log is not available: the job has not started yet.")
        lines = text.splitlines()
        if request.query_params.get("contentOnly", "false").lower() == "true":
            lines = [ln for ln in lines if not ln.startswith("=")]
        lo = int_param(request, "from_line", 1, 1, 10**9)
        hi = int_param(request, "to_line", len(lines), 1, 10**9)
        if hi < lo:
            raise BadRequest("Parameter to_line must not be lower than from_line.")
        body = "\n".join(lines[lo - 1 : hi])
        return PlainTextResponse(body + ("\n" if body else ""))

    async def query_streams(request: Request) -> Response:
        now = sim.state()
        selector = request.query_params.get("plan_filter")
        pred = plan_filter(selector, "jobstream")
        fields = sim.shaped("stream fields", lambda: render.stream_fields(plan))
        index = sim.shaped("stream index", lambda: Index(plan.streams, fields, render.STATIC_STREAM_FIELDS))
        index.retarget(fields, plan.version)
        items = select(
            sim,
            request,
            plan.streams,
            fields,
            "jobstream",
            None if pred is ANY else (lambda s: pred(plan.workstations[s.workstation].name, s.folder, s.name, "")),
            index,
        )
        return paginate(request, items, lambda s: render.render_stream(plan, s, now, with_jobs=False))

    async def get_stream(request: Request) -> Response:
        now = sim.state()
        stream = plan.stream_by_id.get(request.path_params["jobstream_id"])
        if stream is None:
            return error(404, "No job stream with the provided ID was found in the plan.")
        return JSONResponse(render.render_stream(plan, stream, now, with_jobs=True))

    async def query_ws(request: Request) -> Response:
        sim.state()
        pred = plan_filter(request.query_params.get("plan_filter") or "/@/@#", "workstation")
        fields = render.workstation_fields()
        items = select(sim, request, plan.workstations, fields, "workstation", lambda w: pred(w.name, "/", "", ""))
        return paginate(request, items, render.render_workstation)

    async def get_ws(request: Request) -> Response:
        ws = plan.ws_by_id.get(request.path_params["workstation_id"])
        if ws is None:
            return error(404, "No workstation with the provided ID was found in the plan.")
        return JSONResponse(render.render_workstation(ws))

    def render_res(r: Any) -> dict[str, Any]:
        holders: list[dict[str, Any]] = [
            {
                "jobId": j.id,
                "job": j.name,
                "jobKey": f"{plan.streams[j.stream].name}.{j.name}",
                "jobStreamId": plan.streams[j.stream].id,
                "quantity": d.quantity,
            }
            for j in plan.jobs
            if j.status == "EXEC"
            for d in j.deps
            if d.type == "RESOURCE" and d.ref == r.id
        ]
        in_use = sum(h["quantity"] for h in holders)
        return {
            "id": r.id,
            "name": r.name,
            "workstation": r.workstation,
            "quantity": r.quantity,
            "quantityInUse": in_use,
            "quantityAvailable": max(0, r.quantity - in_use),
            "holders": holders,
            "status": "AVAILABLE" if r.quantity - in_use > 0 else "NOT_AVAILABLE",
        }

    res_fields = {"id": lambda r: r.id, "name": lambda r: r.name, "quantity": lambda r: r.quantity}

    async def query_res(request: Request) -> Response:
        sim.state()
        return paginate(request, select(sim, request, plan.resources, res_fields, "resource"), render_res)

    async def get_res(request: Request) -> Response:
        sim.state()
        res = plan.resource_by_id.get(request.path_params["resource_id"])
        if res is None:
            return error(404, "No resource with the provided ID was found in the plan.")
        return JSONResponse(render_res(res))

    def render_prompt(p: Any) -> dict[str, Any]:
        waiting = [j for j in plan.jobs for d in j.deps if d.type == "PROMPT" and d.ref == p.id]
        first = waiting[0] if waiting else None
        out = {
            "id": p.id,
            "name": p.name,
            "number": p.number,
            "text": p.text,
            "type": "Predefined Prompt",
            "status": render.prompt_status(p.answer),
            "timeAsked": iso(plan.start + timedelta(seconds=p.asked_offset_s)),
            "jobId": first.id if first else None,
            "jobStreamId": plan.streams[first.stream].id if first else None,
        }
        if p.answer is not None:
            out["timeRespond"] = iso(plan.start + timedelta(seconds=p.asked_offset_s + 600))
        return {k: v for k, v in out.items() if v is not None}

    prompt_fields = {
        "id": lambda p: p.id,
        "name": lambda p: p.name,
        "status": lambda p: render.prompt_status(p.answer),
    }

    async def query_prompts(request: Request) -> Response:
        sim.state()
        pred = plan_filter(request.query_params.get("plan_filter"), "prompt")
        items = select(sim, request, plan.prompts, prompt_fields, "prompt", lambda p: pred("@", "/", p.name, ""))
        return paginate(request, items, render_prompt)

    async def get_prompt(request: Request) -> Response:
        prompt = plan.prompt_by_id.get(request.path_params["prompt_id"])
        if prompt is None:
            return error(404, "No prompt with the provided ID was found in the plan.")
        return JSONResponse(render_prompt(prompt))

    def g(handler: Callable[[Request], Any]) -> Any:
        return guarded(sim, handler)

    return [
        Route(f"{API}/plan/job", g(query_jobs), methods=["GET"]),
        Route(f"{API}/plan/job/count", g(count_jobs), methods=["GET"]),
        Route(f"{API}/plan/job/run/{{run_id}}/joblog", g(job_log), methods=["GET"]),
        Route(f"{API}/plan/job/{{job_id}}", g(get_job), methods=["GET"]),
        Route(f"{API}/plan/jobstream", g(query_streams), methods=["GET"]),
        Route(f"{API}/plan/jobstream/{{jobstream_id}}", g(get_stream), methods=["GET"]),
        Route(f"{API}/plan/workstation", g(query_ws), methods=["GET"]),
        Route(f"{API}/plan/workstation/{{workstation_id}}", g(get_ws), methods=["GET"]),
        Route(f"{API}/plan/resource", g(query_res), methods=["GET"]),
        Route(f"{API}/plan/resource/{{resource_id}}", g(get_res), methods=["GET"]),
        Route(f"{API}/plan/prompt", g(query_prompts), methods=["GET"]),
        Route(f"{API}/plan/prompt/{{prompt_id}}", g(get_prompt), methods=["GET"]),
    ]
