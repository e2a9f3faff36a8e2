"""What every simulator route shares: the API prefix, error bodies, paging, OQL selection and
the guard that applies faults, credentials and the plan id before a handler runs.

The V2 error body's field names were never captured from a real engine (hwa-rest-api.md §9.1):
the simulator answers ``{"status", "messageCode", "message", "messages": [...]}`` so a client
that reads AWS codes from the body text, as ours does, works against either.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from resync_mcp.simulator.core import Simulator
from resync_mcp.simulator.oql import Index, OqlError, select_objects

API = "/twsd/api/v2"
MAX_LIMIT = 10_000  # the spec's default page size ("10000") and, in the V1 docs, its maximum
Handler = Callable[[Request], Awaitable[Response]]


class BadRequest(Exception):
    pass


class AwsError(Exception):
    """An engine refusal carrying an AWS message code, answered as the action handlers do."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def error(status: int, message: str, code: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "status": status,
        "message": message,
        "messages": [f"{code}: {message}" if code and not message.startswith(code) else message],
    }
    if code:
        body["messageCode"] = code
    return JSONResponse(body, status_code=status)


def int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"Parameter {name} must be an integer.") from None
    if not lo <= value <= hi:
        raise BadRequest(f"Parameter {name} must be between {lo} and {hi}.")
    return value


def paginate(request: Request, items: list[Any], render_one: Callable[[Any], dict[str, Any]]) -> Response:
    """``PaginatedResponse``: ``count`` unless Include-Count is false, ``next``/``previous`` URLs."""
    limit = int_param(request, "limit", MAX_LIMIT, 1, MAX_LIMIT)
    offset = int_param(request, "offset", 0, 0, 10**9)
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


def select(
    sim: Simulator,
    request: Request,
    objs: Iterable[Any],
    fields: Mapping[str, Any],
    kind: str,
    keep: Callable[[Any], bool] | None = None,
    index: Index | None = None,
) -> list[Any]:
    """The objects an ``oql`` parameter selects and orders, under the simulator's field policy."""
    return select_objects(objs, request.query_params.get("oql"), fields, kind, sim.oql_fields, keep, index)


def guarded(sim: Simulator, handler: Handler) -> Handler:
    async def endpoint(request: Request) -> Response:
        fault = await sim.faults.before(request)
        if fault is not None:
            return fault
        authorization = request.headers.get("Authorization")
        if authorization is not None and len(sim.authorizations) < 1000:  # bounded: any client may send any
            sim.authorizations.add(hashlib.sha256(authorization.encode()).hexdigest())
        if not sim.credentials.accepts(authorization):
            return error(401, "Not Authorized")
        if request.query_params.get("plan_id", "current") != "current":
            return error(404, "No plan with the provided ID was found.")
        try:
            return sim.faults.wrap(await sim.faults.after(request, await handler(request)))
        except OqlError as exc:
            return error(400, f"The OQL filter is not valid: {exc}.", "OQL_FILTER_SYNTAX_ERROR")
        except BadRequest as exc:
            return error(400, str(exc))
        except AwsError as exc:
            return error(exc.status, exc.message, exc.code)

    return endpoint


def composite_key_error(raw_id: str) -> AwsError | None:
    """A composite key (``WS;JOBS;NAME``, what an ad hoc submit answers) where a plan UUID is
    expected: the real engine answers AWSBIO006E (LAB-SUB). Its HTTP status was not recorded;
    500 is assumed, as for the other AWS refusals seen from the same handlers."""
    if ";" not in raw_id:
        return None
    return AwsError(
        500,
        "AWSJSY404E The operation could not be performed. AWSBIO006E Field SCHED-NAME has a null value.",
        "AWSBIO006E",
    )
