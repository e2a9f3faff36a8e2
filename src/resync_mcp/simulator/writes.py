"""The simulator's write routes (plan actions, submits, prompt replies, workstation actions),
the model lookups submits need, and the record of every write request received.

Paths, bodies and answers follow hwa-rest-api.md §4: actions are ``PUT …/action/<a>`` and
answer 200 ``{id, url}``; rerun is by run id and needs a JSON body (415 without the JSON
content type, as seen in the lab); submit is ``POST``; an ad hoc submit answers with the
composite key ``WS;JOBS;NAME``, not a UUID.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from resync_mcp.simulator.actions import ActionError, adhoc_name
from resync_mcp.simulator.core import Simulator
from resync_mcp.simulator.model import Models
from resync_mcp.simulator.web import API, Handler, composite_key_error, error, guarded

JOB_ACTIONS = frozenset(
    {
        "hold",
        "release",
        "release-all-dependencies",
        "release-dependencies",
        "cancel",
        "cancel-pending",
        "kill",
        "confirm-succ",
        "confirm-abend",
        "update-priority",
    }
)
STREAM_ACTIONS = frozenset({"hold", "release", "cancel", "cancel-pending"})
WS_ACTIONS = frozenset({"update-fence", "update-limit", "link", "unlink", "start", "stop"})
_SECRET_HEADERS = frozenset({"authorization", "cookie"})


def basic_user(header: str | None) -> str | None:
    """The user name of a Basic credential (never its password)."""
    scheme, _, value = (header or "").partition(" ")
    if scheme != "Basic":
        return None
    try:
        return base64.b64decode(value).decode("utf-8").partition(":")[0]
    except ValueError:
        return None


BULK_JOB_ACTIONS = frozenset({"hold", "release", "release-all-dependencies", "cancel", "cancel-pending"})


def write_routes(sim: Simulator, models: Models, select_jobs: Callable[[Request], list[Any]]) -> list[Route]:
    plan = sim.plan

    def recorded(handler: Handler) -> Handler:
        """Record every write request that arrives (never its credentials), before faults and
        auth decide its fate, so tests can count exactly what reached the engine."""

        async def answered(request: Request) -> Response:
            try:
                return await handler(request)
            except ActionError as exc:
                return error(exc.status, exc.message, exc.code)

        inner = guarded(sim, answered)

        async def endpoint(request: Request) -> Response:
            raw = await request.body()
            sim.writes.append(
                {
                    "method": request.method,
                    "path": request.url.path,
                    "query": dict(request.query_params),
                    "headers": {k: v for k, v in request.headers.items() if k.lower() not in _SECRET_HEADERS},
                    "user": basic_user(request.headers.get("authorization")),  # whom HWA's audit names
                    "body": raw.decode("utf-8", "replace"),
                }
            )
            return await inner(request)

        return endpoint

    async def body_of(request: Request, *, required_json: bool = False) -> dict[str, Any]:
        raw = await request.body()
        is_json = request.headers.get("content-type", "").split(";")[0].strip() == "application/json"
        if required_json and not is_json:
            raise ActionError(415, "Unsupported Media Type: send the body as application/json.")
        if not raw:
            return {}
        if not is_json:
            raise ActionError(415, "Unsupported Media Type: send the body as application/json.")
        try:
            body = json.loads(raw)
        except ValueError:
            raise ActionError(400, "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise ActionError(400, "The request body must be a JSON object.")
        return body

    def done(kind: str, oid: str) -> Response:
        return JSONResponse({"id": oid, "url": f"{API}/plan/{kind}/{oid}"})

    def missing(raw_id: str, what: str) -> ActionError:
        bad_key = composite_key_error(raw_id)
        if bad_key is not None:
            return ActionError(bad_key.status, bad_key.message, bad_key.code)
        return ActionError(404, f"No {what} with the provided ID was found in the plan.")

    async def job_action(request: Request) -> Response:
        job = plan.by_id.get(request.path_params["job_id"])
        action = request.path_params["action"]
        if job is None:
            raise missing(request.path_params["job_id"], "job")
        if action not in JOB_ACTIONS:
            raise ActionError(404, f"No resource at {request.url.path}.")
        body = await body_of(request)
        sim.actions.job(job, action, sim.now(), body, dict(request.query_params))
        return done("job", job.id)

    async def bulk_job(request: Request) -> Response:
        """The filter form: every job the OQL selects, at most ``max_object_affected`` (default 1).
        What the real engine answers when more match is not documented; here it is a 400."""
        action = request.path_params["action"]
        if action not in BULK_JOB_ACTIONS:
            raise ActionError(404, f"No resource at {request.url.path}.")
        raw = request.query_params.get("max_object_affected", "1")
        if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
            raise ActionError(400, "Parameter max_object_affected must be an integer between 1 and 10000.")
        jobs = select_jobs(request)
        if len(jobs) > int(raw):
            raise ActionError(400, f"The filter matches {len(jobs)} objects, more than max_object_affected ({raw}).")
        ok: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for job in jobs:
            try:
                sim.actions.job(job, action, sim.now(), {}, {})
                ok.append({"id": job.id, "url": f"{API}/plan/job/{job.id}"})
            except ActionError as exc:
                failed.append({"id": job.id, "isError": True, "message": exc.message})
        return JSONResponse({"successfulResourceResponses": ok, "failedResourceResponses": failed})

    async def rerun(request: Request) -> Response:
        found = plan.run_index.get(request.path_params["run_id"])
        if found is None:
            raise ActionError(404, "No job run with the provided ID was found in the plan.")
        body = await body_of(request, required_json=True)
        job, n = found
        if n != len(job.run_ids) - 1:
            raise ActionError(500, "AWSJSY404E AWSBIN076E Only the last run of a job can be rerun.", "AWSBIN076E")
        new_run = sim.actions.rerun(job, sim.now(), body)
        return JSONResponse({"id": new_run, "url": f"{API}/plan/job/run/{new_run}"})

    async def stream_action(request: Request) -> Response:
        stream = plan.stream_by_id.get(request.path_params["jobstream_id"])
        action = request.path_params["action"]
        if stream is None:
            raise missing(request.path_params["jobstream_id"], "job stream")
        if action not in STREAM_ACTIONS:
            raise ActionError(404, f"No resource at {request.url.path}.")
        sim.actions.stream(stream, action, sim.now())
        return done("jobstream", stream.id)

    async def submit_stream(request: Request) -> Response:
        model = models.streams().get(request.path_params["model_id"])
        if model is None:
            raise ActionError(404, "AWSJDB101E The object was not found in the database.", "AWSJDB101E")
        new = sim.actions.submit_stream(model, sim.now(), await body_of(request))
        return JSONResponse({"count": 1, "results": [{"id": new.id, "url": f"{API}/plan/jobstream/{new.id}"}]})

    async def submit_job(request: Request) -> Response:
        model = models.jobs().get(request.path_params["model_id"])
        if model is None:
            raise ActionError(404, "AWSJDB101E The object was not found in the database.", "AWSJDB101E")
        job = sim.actions.submit_job(model, sim.now(), await body_of(request))
        return done("job", job.id)

    async def submit_adhoc(request: Request) -> Response:
        body = await body_of(request, required_json=True)
        key = str(body.get("workstationKey") or "").lstrip("/")
        ws = next((w for w in plan.workstations if w.name == key), None)
        if ws is None:
            raise ActionError(404, "No workstation with the provided key was found in the plan.")
        job = sim.actions.submit_adhoc(ws, sim.now(), adhoc_name(body), 120, held=sim.adhoc_state == "HOLD")
        return JSONResponse({"id": f"{ws.name};JOBS;{job.name}"})

    async def reply(request: Request) -> Response:
        prompt = plan.prompt_by_id.get(request.path_params["prompt_id"])
        if prompt is None:
            raise ActionError(404, "No prompt with the provided ID was found in the plan.")
        body = await body_of(request, required_json=True)
        if not isinstance(body.get("answer"), bool):
            raise ActionError(400, 'The body must be PromptInPlanAnswer: {"answer": true|false}.')
        sim.actions.reply(prompt, body["answer"], sim.now())
        return done("prompt", prompt.id)

    async def ws_action(request: Request) -> Response:
        ws = plan.ws_by_id.get(request.path_params["workstation_id"])
        action = request.path_params["action"]
        if ws is None:
            raise ActionError(404, "No workstation with the provided ID was found in the plan.")
        if action not in WS_ACTIONS:
            raise ActionError(404, f"No resource at {request.url.path}.")
        sim.actions.workstation(ws, action, sim.now(), dict(request.query_params))
        return done("workstation", ws.id)

    async def sim_writes(request: Request) -> Response:
        return JSONResponse({"count": len(sim.writes), "results": sim.writes})

    return [
        Route(f"{API}/plan/job/submit-ad-hoc-job", recorded(submit_adhoc), methods=["POST"]),
        Route(f"{API}/plan/job/run/{{run_id}}/action/rerun", recorded(rerun), methods=["PUT"]),
        Route(f"{API}/plan/job/action/{{action}}", recorded(bulk_job), methods=["PUT"]),
        Route(f"{API}/plan/job/{{job_id}}/action/{{action}}", recorded(job_action), methods=["PUT"]),
        Route(f"{API}/plan/job/{{model_id}}/submit", recorded(submit_job), methods=["POST"]),
        Route(f"{API}/plan/jobstream/{{jobstream_id}}/action/{{action}}", recorded(stream_action), methods=["PUT"]),
        Route(f"{API}/plan/jobstream/{{model_id}}/submit", recorded(submit_stream), methods=["POST"]),
        Route(f"{API}/plan/prompt/{{prompt_id}}/action/reply", recorded(reply), methods=["PUT"]),
        Route(f"{API}/plan/workstation/{{workstation_id}}/action/{{action}}", recorded(ws_action), methods=["PUT"]),
        Route("/_sim/writes", sim_writes, methods=["GET"]),
    ]
