"""Async client for the HWA REST API v2: plan reads here, writes in tws/actions.py.

The ``httpx.AsyncClient`` is injected: production passes one with the engine's base URL,
TLS settings, timeouts and credentials; tests pass one whose transport is the simulator.
Identifiers are checked before they reach a URL path, so an id can never add a path
segment or a query string.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import anyio
import httpx
from pydantic import BaseModel, ValidationError

from resync_mcp.clock import Clock, SystemClock
from resync_mcp.errors import HwaError, InvalidArgument, InvalidQuery, NotAllowed, OutcomeUnknown
from resync_mcp.security.policy import principal_var
from resync_mcp.tws import fallback
from resync_mcp.tws.acting import ActingCredentials
from resync_mcp.tws.errors import raise_for_response, transport_error
from resync_mcp.tws.models import (
    EngineInfoV2,
    GroupedCountResponse,
    HwaModel,
    JobInPlanV2,
    JobRunInstanceV2,
    JobStreamInPlanV2,
    Page,
    PromptInPlanV2,
    ResourceInPlanV2,
    WorkstationInPlanV2,
)
from resync_mcp.tws.upstream import Fetched, HitProbe, UpstreamCall, UpstreamStage, chain, freshness_var, scope_var

# V2 ids are UUID-shaped: the spec's pattern is 8-4-4-4-12 word characters.
_ID = re.compile(r"^\w{8}-\w{4}-\w{4}-\w{4}-\w{12}$", re.ASCII)
M = TypeVar("M", bound=BaseModel)
H = TypeVar("H", bound=HwaModel)
DEFAULT_JOB_FILTER = "/@/@#/@/@.@"
DEFAULT_STREAM_FILTER = "/@/@#/@/@"


def is_plan_id(value: str) -> bool:
    return bool(_ID.match(value))


def check_id(value: str, what: str) -> str:
    """Return ``value`` if it is a well-formed plan object id.

    Raises:
        InvalidArgument: naming the expected form.
    """
    if not isinstance(value, str) or not _ID.match(value):
        shown = repr(value[:60]) if isinstance(value, str) else type(value).__name__
        raise InvalidArgument(
            f"{shown} is not a valid {what} id.",
            hint="HWA plan ids look like 6d19eaf1-c9da-3799-96ed-131f07832a01; find them with the find tools.",
        )
    return value


LARGE_PAGE = 256 * 1024  # bytes of JSON above which a page is parsed in a worker thread
PARSED_BYTES = 16 * 1024 * 1024  # parsed cache hits kept beside their bytes, at most this much of them


class HwaClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        engine: str,
        api_path: str = "/twsd/api/v2",
        plan_id: str = "current",
        stages: Sequence[UpstreamStage] = (),
        clock: Clock | None = None,
        total_timeout_s: float = 60.0,
        acting: ActingCredentials | None = None,
        observe: Callable[[str, str, str, float], None] | None = None,
    ):
        self._http = http
        self.engine = engine
        self._api = api_path.rstrip("/")
        self._plan_id = plan_id
        self._clock = clock or SystemClock()
        self._total_timeout_s = total_timeout_s
        self._acting = acting
        self._observe = observe  # (engine, operation, method, seconds) of each request sent: metrics
        self._fetch = chain(stages, self._http_fetch)
        # The cache, when it is the outermost stage, answers a fresh hit before a request is built.
        self._probe = stages[0] if stages and isinstance(stages[0], HitProbe) else None
        self.refuses_unconfirmed_oql: set[str] = set()  # object kinds whose OQL fields the engine refused
        self.requests_made = 0  # requests that really went to the engine
        self.latencies_ms: deque[float] = deque(maxlen=2000)  # of those requests, for health
        # Answers parsed from the very bytes a cache entry holds: a cache hit is not parsed again.
        self._parsed: OrderedDict[tuple[type[Any], int], tuple[bytes, Any]] = OrderedDict()
        self._parsed_bytes = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    # ----------------------------------------------------------------- plumbing
    async def _http_fetch(self, call: UpstreamCall) -> Fetched:
        """The innermost stage: one HTTP GET, its errors mapped at the one boundary."""
        self.requests_made += 1
        collector = freshness_var.get()
        if collector is not None:
            collector.sent += 1
        started = self._clock.monotonic()
        left = call.remaining(started)
        try:
            with anyio.fail_after(self._total_timeout_s if left is None else left):
                response = await self._http.request(
                    call.method,
                    f"{self._api}{call.path}",
                    params=dict(call.params),
                    headers=dict(call.headers),
                    content=call.body,
                    auth=call.acting or httpx.USE_CLIENT_DEFAULT,
                )
        except TimeoutError as exc:
            raise self._lost(call, httpx.TimeoutException("total")) from exc
        except (httpx.HTTPError, OSError) as exc:  # OSError: a reset seen below httpx (in-process transport)
            raise self._lost(call, exc) from exc
        finally:
            took = self._clock.monotonic() - started
            self.latencies_ms.append(took * 1000)
            if self._observe is not None:
                self._observe(self.engine, call.kind, call.method, took)
        raise_for_response(response, self.engine, call.what)
        return Fetched(
            response.status_code, response.content, response.headers.get("content-type", ""), self._clock.now()
        )

    def _lost(self, call: UpstreamCall, exc: Exception) -> HwaError:
        """A request without an answer. A write that may have left is "outcome unknown": only a
        refused connection proves it was never sent."""
        if call.idempotent or isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return transport_error(exc, self.engine, call.what)
        return OutcomeUnknown(
            f"No answer from HWA engine '{self.engine}' after sending the request while {call.what}; "
            "it may or may not have been applied.",
            hint="Read the object's state before doing anything else; do not simply send it again.",
        )

    async def _send(
        self,
        method: str,
        path: str,
        what: str,
        *,
        kind: str,
        object_id: str | None = None,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Fetched:
        """One write: never cached, never retried (the stages see ``idempotent=False``). No
        ``plan_id``: the spec's action and submit operations declare none (writes act on the
        current plan); only the reads take it."""
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        hdrs = dict(headers or {})
        content = None
        if body is not None:
            content = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        acting = None
        if self._acting is not None:  # writes in the caller's own name on this engine
            principal = principal_var.get()
            if principal is None:
                raise NotAllowed(f"A write to engine '{self.engine}' must be made in a person's name.")
            acting = self._acting.auth_for(principal)
        call = UpstreamCall(
            engine=self.engine,
            path=path,
            params=tuple(sorted(query.items())),
            headers=tuple(sorted(hdrs.items())),
            what=what,
            kind=kind,
            object_id=object_id,
            scope=scope_var.get(),
            acting=acting,
            idempotent=False,
            method=method,
            body=content,
            deadline=self._clock.monotonic() + self._total_timeout_s,
        )
        return await self._fetch(call)

    async def _get(
        self,
        path: str,
        what: str,
        *,
        kind: str,
        object_id: str | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        plan_scoped: bool = True,
        fresh: bool = False,
        remember: bool = True,
    ) -> Fetched:
        query = {k: str(v) for k, v in params.items() if v is not None} if params else {}
        if plan_scoped:
            query.setdefault("plan_id", self._plan_id)
        query_t, headers_t = tuple(sorted(query.items())), tuple(sorted((headers or {}).items()))
        scope = scope_var.get()
        probe = None if fresh else self._probe  # a precondition read never takes the shortcut
        fetched = probe.fresh_hit(self.engine, kind, scope, path, query_t, headers_t) if probe is not None else None
        if fetched is None:
            call = UpstreamCall(
                engine=self.engine,
                path=path,
                params=query_t,
                headers=headers_t,
                what=what,
                kind=kind,
                object_id=object_id,
                scope=scope,
                fresh=fresh,
                remember=remember,
                deadline=self._clock.monotonic() + self._total_timeout_s,
            )
            fetched = await self._fetch(call)
        collector = freshness_var.get()
        if collector is not None:
            collector.record(fetched)
        return fetched

    def _parse(self, model: type[M], fetched: Fetched, what: str) -> M:
        """The model read from an answer. A cached answer hands out the same bytes object on each
        hit, and its model is kept beside it (by identity: the bytes are held, so the key cannot
        be reused; pages up to LARGE_PAGE). Models are never changed after parsing."""
        content = fetched.content
        key = (model, id(content))
        kept = self._parsed.get(key)
        if kept is not None and kept[0] is content:
            self._parsed.move_to_end(key)
            return cast(M, kept[1])
        try:
            parsed = model.model_validate_json(content)
        except ValidationError as exc:
            raise HwaError(
                f"HWA engine '{self.engine}' sent a response that could not be read while {what}.",
                hint="The engine version may not match the REST API v2 this server expects.",
            ) from exc
        if fetched.source != "upstream" and len(content) <= LARGE_PAGE:  # a cache hit: more will come
            self._parsed[key] = (content, parsed)
            self._parsed_bytes += len(content)
            while self._parsed_bytes > PARSED_BYTES:
                old, _ = self._parsed.popitem(last=False)[1]
                self._parsed_bytes -= len(old)
        return parsed

    async def _page(
        self,
        model: type[H],
        path: str,
        what: str,
        *,
        kind: str,
        oql: str | None,
        plan_filter: str | None,
        limit: int,
        offset: int,
        include_count: bool = True,
        scope: str | None = None,
        fresh: bool = False,
        remember: bool = True,
    ) -> Page[H]:
        """One page of a query. An engine that refuses a filter field we use (400
        OQL_FILTER_SYNTAX_ERROR) gets the confirmed part of the query; the rest is applied here."""
        local = fallback.needs_fallback(kind, oql)
        if not (local and kind in self.refuses_unconfirmed_oql):
            headers = {"Include-Count": "true" if include_count else "false"}
            if scope:
                headers["scope"] = scope
            params = {"oql": oql, "plan_filter": plan_filter, "limit": limit, "offset": offset}
            try:
                response = await self._get(
                    path, what, kind="query", params=params, headers=headers, fresh=fresh, remember=remember
                )
                if len(response.content) > LARGE_PAGE:  # parsed off the loop: other calls go on meanwhile
                    return await anyio.to_thread.run_sync(self._parse, Page[model], response, what)  # type: ignore[valid-type]
                return self._parse(Page[model], response, what)  # type: ignore[valid-type]
            except InvalidQuery as exc:
                if not local or exc.code != "OQL_FILTER_SYNTAX_ERROR":
                    raise
                self.refuses_unconfirmed_oql.add(kind)
        assert oql is not None  # needs_fallback is false without a filter
        return await fallback.page_locally(
            self,
            model,
            path,
            what,
            kind=kind,
            text=oql,
            plan_filter=plan_filter,
            limit=limit,
            offset=offset,
            scope=scope,
            fresh=fresh,
        )

    # ---------------------------------------------------------------------- jobs
    async def query_jobs(
        self,
        *,
        oql: str | None = None,
        plan_filter: str | None = None,
        limit: int = 50,
        offset: int = 0,
        include_count: bool = True,
        scope: str | None = None,
        fresh: bool = False,
        remember: bool = True,
    ) -> Page[JobInPlanV2]:
        """GET /plan/job. Raises HwaError (InvalidQuery on a bad filter)."""
        return await self._page(
            JobInPlanV2,
            "/plan/job",
            "querying jobs",
            kind="job",
            oql=oql,
            plan_filter=plan_filter,
            limit=limit,
            offset=offset,
            include_count=include_count,
            scope=scope,
            fresh=fresh,
            remember=remember,
        )

    async def count_jobs(
        self, *, plan_filter: str = DEFAULT_JOB_FILTER, grouping: list[str] | None = None
    ) -> GroupedCountResponse:
        """GET /plan/job/count with optional grouping_filters (workstation, status, folder)."""
        response = await self._get(
            "/plan/job/count",
            "counting jobs",
            kind="count",
            params={"plan_filter": plan_filter, "grouping_filters": ",".join(grouping) if grouping else None},
        )
        return self._parse(GroupedCountResponse, response, "counting jobs")

    async def get_job(self, job_id: str, *, fresh: bool = False) -> JobInPlanV2:
        """GET /plan/job/{job_id}. Raises InvalidArgument for a malformed id, NotFound if absent.
        ``fresh`` reads the engine itself, never the cache (before and after a write)."""
        check_id(job_id, "job")
        response = await self._get(
            f"/plan/job/{job_id}", f"reading job {job_id}", kind="job", object_id=job_id, fresh=fresh
        )
        return self._parse(JobInPlanV2, response, f"reading job {job_id}")

    async def get_job_runs(self, job_id: str) -> list[JobRunInstanceV2]:
        """The runs of a job, as carried in ``JobInPlanV2.jobruns`` (no separate V2 path is confirmed)."""
        return list((await self.get_job(job_id)).jobruns or [])

    async def get_job_log(
        self, run_id: str, *, from_line: int | None = None, to_line: int | None = None, content_only: bool = False
    ) -> str:
        """GET /plan/job/run/{run_id}/joblog (text/plain). Lines are 1-based and inclusive."""
        check_id(run_id, "job run")
        what = f"reading the log of run {run_id}"
        response = await self._get(
            f"/plan/job/run/{run_id}/joblog",
            what,
            kind="joblog",
            object_id=run_id,
            params={"from_line": from_line, "to_line": to_line, "contentOnly": "true" if content_only else None},
        )
        return response.content.decode("utf-8", errors="replace")

    # --------------------------------------------------------------- job streams
    async def query_job_streams(
        self,
        *,
        oql: str | None = None,
        plan_filter: str | None = None,
        limit: int = 50,
        offset: int = 0,
        include_count: bool = True,
        fresh: bool = False,
    ) -> Page[JobStreamInPlanV2]:
        return await self._page(
            JobStreamInPlanV2,
            "/plan/jobstream",
            "querying job streams",
            kind="jobstream",
            oql=oql,
            plan_filter=plan_filter,
            limit=limit,
            offset=offset,
            include_count=include_count,
            fresh=fresh,
        )

    async def get_job_stream(self, jobstream_id: str, *, fresh: bool = False) -> JobStreamInPlanV2:
        check_id(jobstream_id, "job stream")
        what = f"reading job stream {jobstream_id}"
        return self._parse(
            JobStreamInPlanV2,
            await self._get(
                f"/plan/jobstream/{jobstream_id}", what, kind="jobstream", object_id=jobstream_id, fresh=fresh
            ),
            what,
        )

    # ------------------------------------------------- workstations, resources, prompts
    async def query_workstations(
        self, *, oql: str | None = None, plan_filter: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[WorkstationInPlanV2]:
        return await self._page(
            WorkstationInPlanV2,
            "/plan/workstation",
            "querying workstations",
            kind="workstation",
            oql=oql,
            plan_filter=plan_filter,
            limit=limit,
            offset=offset,
        )

    async def get_workstation(self, workstation_id: str, *, fresh: bool = False) -> WorkstationInPlanV2:
        check_id(workstation_id, "workstation")
        what = f"reading workstation {workstation_id}"
        return self._parse(
            WorkstationInPlanV2,
            await self._get(
                f"/plan/workstation/{workstation_id}", what, kind="workstation", object_id=workstation_id, fresh=fresh
            ),
            what,
        )

    async def query_resources(
        self, *, oql: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[ResourceInPlanV2]:
        return await self._page(
            ResourceInPlanV2,
            "/plan/resource",
            "querying resources",
            kind="resource",
            oql=oql,
            plan_filter=None,
            limit=limit,
            offset=offset,
        )

    async def query_prompts(
        self, *, oql: str | None = None, plan_filter: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[PromptInPlanV2]:
        return await self._page(
            PromptInPlanV2,
            "/plan/prompt",
            "querying prompts",
            kind="prompt",
            oql=oql,
            plan_filter=plan_filter,
            limit=limit,
            offset=offset,
        )

    async def get_prompt(self, prompt_id: str, *, fresh: bool = False) -> PromptInPlanV2:
        check_id(prompt_id, "prompt")
        what = f"reading prompt {prompt_id}"
        fetched = await self._get(f"/plan/prompt/{prompt_id}", what, kind="prompt", object_id=prompt_id, fresh=fresh)
        return self._parse(PromptInPlanV2, fetched, what)

    async def engine_info(self, *, fresh: bool = False) -> EngineInfoV2:
        """``fresh``: ask the engine itself (``check``): a cached answer proves nothing about it now."""
        response = await self._get(
            "/engine/info", "reading engine info", kind="engine", plan_scoped=False, fresh=fresh, remember=not fresh
        )
        return self._parse(EngineInfoV2, response, "reading engine info")
