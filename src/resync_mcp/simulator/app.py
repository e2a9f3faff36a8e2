"""The simulator as an ASGI app serving the HWA REST API v2: read routes (reads.py), model and
engine routes (model.py) and write routes (writes.py), assembled here with the spec's 404 and 405
answers. Paths, query parameters, headers, paging, status codes and bodies follow hwa-rest-api.md
and the spec transcribed in tests/contract.

Non-HWA control paths live under ``/_sim/``: advance plan time, inspect the seed, switch fault
modes at run time (``PUT``/``DELETE /_sim/faults``) and list the write requests received.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from resync_mcp.clock import iso
from resync_mcp.simulator.core import Credentials, Simulator
from resync_mcp.simulator.faults import Faults
from resync_mcp.simulator.model import Models, model_routes
from resync_mcp.simulator.reads import job_selector, read_routes
from resync_mcp.simulator.web import API, error
from resync_mcp.simulator.writes import write_routes

__all__ = ["API", "Credentials", "Simulator", "build_app"]


def build_app(sim: Simulator) -> Starlette:
    plan = sim.plan
    models = Models(plan)

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
        return JSONResponse(
            {
                "seed": plan.seed,
                "jobs": len(plan.jobs),
                "planTime": iso(sim.state()),
                "oqlFields": sim.oql_fields,
                "adhocState": sim.adhoc_state,
                "requestsReceived": sim.faults.received,
                "authorizationDigests": sorted(sim.authorizations),
            }
        )

    routes: list[Any] = [
        *read_routes(sim),
        *model_routes(sim, models),
        Route("/_sim/advance", sim_advance, methods=["POST"]),
        Route("/_sim/info", sim_info, methods=["GET"]),
        Route("/_sim/faults", sim_faults, methods=["PUT", "DELETE"]),
        *write_routes(sim, models, job_selector(sim)),
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
