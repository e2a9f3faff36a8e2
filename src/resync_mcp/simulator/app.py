"""The simulator as an ASGI app serving the HWA REST API v2 plan read paths.

Paths, query parameters, headers, paging (``limit``/``offset`` with ``count``/``next``/
``previous``), status codes and error bodies follow hwa-rest-api.md. The V2 error body's
exact field names were never captured from a real engine (§9.1); the simulator answers
``{"status", "messageCode", "message", "messages": [...]}`` so a client that reads AWS
codes from the body text, as ours does, works against either. ``messageCode`` is sent only
where the real code is known (``OQL_FILTER_SYNTAX_ERROR``); the 404 texts are the spec's.

Non-HWA control paths live under ``/_sim/``: advance plan time, inspect the seed, and switch
fault modes at run time (``PUT``/``DELETE /_sim/faults``).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from resync_mcp.clock import Clock, iso
from resync_mcp.simulator import render
from resync_mcp.simulator.actions import Actions
from resync_mcp.simulator.faults import Faults
from resync_mcp.simulator.joblog import render_log
from resync_mcp.simulator.oql import OqlError, parse, plan_filter, sort_key
from resync_mcp.simulator.plan import SimPlan, generate_plan
from resync_mcp.simulator.writes import write_routes

API = "/twsd/api/v2"
MAX_LIMIT = 10_000  # the API's default and, in the V1 docs, its maximum page size


class FaultPolicy(Protocol):
    """Decides per request whether the engine misbehaves (simulator/faults.py)."""

    async def before(self, request: Request) -> Response | None: ...

    def wrap(self, response: Response) -> Response: ...


@dataclass
class Credentials:
    username: str | None = None
    password: str | None = None
    token: str | None = None

    def accepts(self, header: str | None) -> bool:
        if self.username is None and self.token is None:
            return header is not None and header.split(" ", 1)[0] in ("Basic", "Bearer")
        if header is None:
            return False
        scheme, _, value = header.partition(" ")
        if scheme == "Bearer" and self.token is not None:
            return secrets.compare_digest(value, self.token)
        if scheme == "Basic" and self.username is not None:
            expected = base64.b64encode(f"{self.username}:{self.password or ''}".encode()).decode()
            return secrets.compare_digest(value, expected)
        return False


def error(status: int, message: str, code: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "status": status,
        "message": message,
        "messages": [f"{code}: {message}" if code else message],
    }
    if code:
        body["messageCode"] = code
    return JSONResponse(body, status_code=status)


class Simulator:
    """A simulated engine: a plan, a clock and an offset that advances plan time."""

    def __init__(
        self,
        plan: SimPlan,
        clock: Clock,
        *,
        credentials: Credentials | None = None,
        faults: FaultPolicy | None = None,
        tick_seconds: int = 30,
    ) -> None:
        self.plan = plan
        self.clock = clock
        self.credentials = credentials or Credentials()
        self.faults: FaultPolicy = faults or Faults()
        self.tick_seconds = tick_seconds
        self._offset = timedelta()
        self.actions = Actions(plan, plan.seed + 1)
        self.writes: list[dict[str, Any]] = []  # every write request received, for tests and /_sim/writes

    @classmethod
    def create(cls, seed: int, n_jobs: int, clock: Clock, *, hours_into_plan: float = 10.0, **kw: Any) -> Simulator:
        """A plan whose first job stream arrived ``hours_into_plan`` hours before clock time."""
        start = (clock.now() - timedelta(hours=hours_into_plan)).replace(minute=0, second=0, microsecond=0)
        return cls(generate_plan(seed, n_jobs, start), clock, **kw)

    def now(self) -> datetime:
        """Plan time, quantized to the tick so a busy server does not re-evaluate every request."""
        t = self.clock.now() + self._offset
        return t - timedelta(seconds=t.second % self.tick_seconds, microseconds=t.microsecond)

    def advance(self, seconds: float) -> None:
        self._offset += timedelta(seconds=seconds)

    def state(self) -> datetime:
        now = self.now()
        self.plan.evaluate(now)
        return now

    def app(self) -> Starlette:
        return build_app(self)

    def transport(self) -> httpx.ASGITransport:
        """An httpx transport that calls the simulator in-process, no socket."""
        return httpx.ASGITransport(app=self.app())


# ------------------------------------------------------------------------ helpers
def _int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _BadRequest(f"Parameter {name} must be an integer.") from None
    if not lo <= value <= hi:
        raise _BadRequest(f"Parameter {name} must be between {lo} and {hi}.")
    return value


class _BadRequest(Exception):
    pass


def _paginate(request: Request, items: list[Any], render_one: Callable[[Any], dict[str, Any]]) -> Response:
    limit = _int_param(request, "limit", MAX_LIMIT, 1, MAX_LIMIT)
    offset = _int_param(request, "offset", 0, 0, 10**9)
    page = items[offset : offset + limit]
    base = str(request.url.replace(query="")).rstrip("/")
    params = dict(request.query_params)

    def link(off: int) -> str:
        return f"{base}?{urlencode({**params, 'limit': limit, 'offset': off})}"

    body: dict[str, Any] = {"results": [render_one(o) for o in page]}
    if request.headers.get("Include-Count", "true").lower() != "false":
        body["count"] = len(items)
    if offset + limit < len(items):
        body["next"] = link(offset + limit)
    if offset > 0:
        body["previous"] = link(max(0, offset - limit))
    return JSONResponse(body)


def _select(objs: Iterable[Any], request: Request, fields: dict[str, Any], pf: Callable[[Any], bool]) -> list[Any]:
    query = parse(request.query_params.get("oql"), fields)
    out = [o for o in objs if pf(o) and (query.predicate is None or query.predicate(o))]
    if query.order:
        out.sort(key=sort_key(query.order))
    return out


def build_app(sim: Simulator) -> Starlette:
    plan = sim.plan

    def guarded(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            fault = await sim.faults.before(request)
            if fault is not None:
                return fault
            if not sim.credentials.accepts(request.headers.get("Authorization")):
                return error(401, "Not Authorized")
            if request.query_params.get("plan_id", "current") != "current":
                return error(404, "No plan with the provided ID was found.")
            try:
                return sim.faults.wrap(await handler(request))
            except OqlError as exc:
                return error(400, f"The OQL filter is not valid: {exc}.", "OQL_FILTER_SYNTAX_ERROR")
            except _BadRequest as exc:
                return error(400, str(exc))

        return endpoint

    def job_pf(request: Request) -> Callable[[Any], bool]:
        # The selector's workstation is the job stream's, as in WS#JOBSTREAM.JOB identifiers.
        pred = plan_filter(request.query_params.get("plan_filter"), "job")
        return lambda j: pred(
            plan.workstations[plan.streams[j.stream].workstation].name,
            plan.streams[j.stream].folder,
            plan.streams[j.stream].name,
            j.name,
        )

    def select_jobs(request: Request) -> list[Any]:
        now = sim.state()
        return _select(plan.jobs, request, render.job_fields(plan, now), job_pf(request))

    async def query_jobs(request: Request) -> Response:
        now = sim.state()
        with_deps = request.headers.get("scope", "WHOLE_NO_DEPENDENCIES") == "WHOLE"
        items = _select(plan.jobs, request, render.job_fields(plan, now), job_pf(request))
        return _paginate(request, items, lambda j: render.render_job(plan, j, now, with_deps=with_deps))

    async def count_jobs(request: Request) -> Response:
        now = sim.state()
        items = [j for j in plan.jobs if job_pf(request)(j)]
        grouped: dict[str, int] = {}
        groups = [g for g in request.query_params.get("grouping_filters", "").split(",") if g]
        for g in groups:
            if g not in ("workstation", "status", "folder"):
                raise _BadRequest(f"Unknown grouping filter {g!r}; use workstation, status or folder.")
        for j in items:
            for g in groups:
                key = {
                    "workstation": plan.workstations[j.workstation].key,
                    "status": j.status,
                    "folder": plan.streams[j.stream].folder,
                }[g]
                grouped[f"{g}:{key}"] = grouped.get(f"{g}:{key}", 0) + 1
        del now
        return JSONResponse({"count": len(items), "groupedCount": grouped})

    async def get_job(request: Request) -> Response:
        now = sim.state()
        job = plan.by_id.get(request.path_params["job_id"])
        if job is None:
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
        lo = _int_param(request, "from_line", 1, 1, 10**9)
        hi = _int_param(request, "to_line", len(lines), 1, 10**9)
        if hi < lo:
            raise _BadRequest("Parameter to_line must not be lower than from_line.")
        body = "\n".join(lines[lo - 1 : hi])
        return PlainTextResponse(body + ("\n" if body else ""))

    def stream_pf(request: Request) -> Callable[[Any], bool]:
        pred = plan_filter(request.query_params.get("plan_filter"), "jobstream")
        return lambda s: pred(plan.workstations[s.workstation].name, s.folder, s.name, "")

    async def query_streams(request: Request) -> Response:
        now = sim.state()
        items = _select(plan.streams, request, render.stream_fields(plan), stream_pf(request))
        return _paginate(request, items, lambda s: render.render_stream(plan, s, now, with_jobs=False))

    async def get_stream(request: Request) -> Response:
        now = sim.state()
        stream = plan.stream_by_id.get(request.path_params["jobstream_id"])
        if stream is None:
            return error(404, "No job stream with the provided ID was found in the plan.")
        return JSONResponse(render.render_stream(plan, stream, now, with_jobs=True))

    def render_ws(w: Any) -> dict[str, Any]:
        return {
            "id": w.id,
            "name": w.name,
            "key": w.key,
            "type": w.type,
            "os": w.os,
            "nodeName": w.node_name,
            "tcpPort": 31111,
            "limit": w.limit,
            "fence": w.fence,
            "runNumber": 14,
            "domainName": w.domain,
            "timeZone": "UTC",
            "version": "10.2.8",
            "activeStates": render.workstation_states(w),
            "activeFlags": ["AUTO_LINK", "FULL_STATUS", "TCP_IP_LINK"],
            "ignore": False,
        }

    async def query_ws(request: Request) -> Response:
        sim.state()
        pred = plan_filter(request.query_params.get("plan_filter") or "/@/@#", "workstation")
        items = _select(plan.workstations, request, render.workstation_fields(), lambda w: pred(w.name, "/", "", ""))
        return _paginate(request, items, render_ws)

    async def get_ws(request: Request) -> Response:
        ws = plan.ws_by_id.get(request.path_params["workstation_id"])
        if ws is None:
            return error(404, "No workstation with the provided ID was found in the plan.")
        return JSONResponse(render_ws(ws))

    def render_res(r: Any) -> dict[str, Any]:
        holders: list[dict[str, Any]] = [
            {"jobId": j.id, "jobKey": j.name, "jobStreamId": plan.streams[j.stream].id, "quantity": d.quantity}
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
        return _paginate(request, _select(plan.resources, request, res_fields, lambda r: True), render_res)

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
        items = _select(plan.prompts, request, prompt_fields, lambda p: pred("@", "/", p.name, ""))
        return _paginate(request, items, render_prompt)

    async def get_prompt(request: Request) -> Response:
        prompt = plan.prompt_by_id.get(request.path_params["prompt_id"])
        if prompt is None:
            return error(404, "No prompt with the provided ID was found in the plan.")
        return JSONResponse(render_prompt(prompt))

    async def engine_info(request: Request) -> Response:
        return JSONResponse(
            {
                "fullVersion": "10.2.8.0",
                "displayVersion": "10.2.8",
                "licenseType": "PERJOB",
                "timezone": "UTC",
                "locale": "en",
                "capabilities": ["PLAN", "MODEL"],
                "simulator": {"seed": plan.seed, "jobs": len(plan.jobs)},
            }
        )

    async def sim_advance(request: Request) -> Response:
        seconds = _float(request.query_params.get("seconds"))
        if seconds is None or not 0 <= seconds <= 7 * 86400:
            return error(400, "seconds must be a number between 0 and 604800")
        sim.advance(seconds)
        return JSONResponse({"planTime": iso(sim.state())})

    async def sim_faults(request: Request) -> Response:
        if not isinstance(sim.faults, Faults):
            return error(409, "This simulator's fault policy cannot be changed at run time.")
        if request.method == "DELETE":
            return JSONResponse(asdict(sim.faults.configure()))
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            return JSONResponse(asdict(sim.faults.configure(**body)))
        except (ValueError, TypeError) as exc:
            return error(400, f"Bad fault settings: {exc}")

    async def sim_info(request: Request) -> Response:
        return JSONResponse({"seed": plan.seed, "jobs": len(plan.jobs), "planTime": iso(sim.state())})

    g = guarded
    routes = [
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
        Route(f"{API}/engine/info", g(engine_info), methods=["GET"]),
        Route("/_sim/advance", sim_advance, methods=["POST"]),
        Route("/_sim/info", sim_info, methods=["GET"]),
        Route("/_sim/faults", sim_faults, methods=["PUT", "DELETE"]),
        *write_routes(sim, guarded, error, select_jobs),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return error(404, f"No resource at {request.url.path}.")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return error(405, f"Method {request.method} is not allowed on {request.url.path}.")

    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})


def _float(raw: str | None) -> float | None:
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None
