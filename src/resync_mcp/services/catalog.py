"""Read services for job streams, workstations, resources, prompts and the plan summary."""

from __future__ import annotations

import re

from resync_mcp.errors import InvalidArgument, NotFound
from resync_mcp.services import filters as f
from resync_mcp.services import joblog
from resync_mcp.services.base import PlanBase
from resync_mcp.services.summaries import describe_dep, summarize_job, summarize_stream
from resync_mcp.services.views import (
    FindJobStreamsResult,
    JobStreamDetail,
    PlanSummary,
    PromptsResult,
    PromptView,
    ResourcesResult,
    ResourceView,
    WorkstationsResult,
    WorkstationView,
)
from resync_mcp.tws.client import is_plan_id
from resync_mcp.tws.status import COMMON_OF

_STREAM_REF = re.compile(
    r"^(?:/?(?P<ws>[A-Za-z0-9_\-]{1,16})#)?(?P<folder>/(?:[A-Za-z0-9_\-]+/)*)?"
    r"(?P<js>[A-Za-z0-9_\-]{1,40})$"
)


class CatalogQueries(PlanBase):
    async def find_job_streams(
        self,
        *,
        engine: str | None,
        status: list[str] | None = None,
        name: str | None = None,
        workstation: str | None = None,
        folder: str | None = None,
        sort: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> FindJobStreamsResult:
        client = self.engines.get(engine)
        n = self._limit(limit)
        ws = f.name_pattern(workstation, "workstation")
        oql = f.conjunction(
            [
                f.status_terms(
                    status,
                    internal_field="compositeStatus.status",
                    common_field="commonStatus",
                    internal_values=f.STREAM_INTERNAL_STATUSES,
                ),
                f.match("name", p) if (p := f.name_pattern(name, "job stream")) else None,
                f.match("workstation", "/" + ws) if ws else None,
                f.match("folder", p) if (p := f.folder_pattern(folder)) else None,
            ]
        )
        order = f.order_by(
            sort,
            {"name": "name", "sched_time": "schedTime", "priority": "priority", "status": "compositeStatus.status"},
        )
        query = " ".join(x for x in (oql, order) if x) or None
        offset = f.decode_cursor(cursor, "js:" + (query or ""))
        as_of = self.clock.now()
        page = await client.query_job_streams(oql=query, limit=n, offset=offset)
        items = [summarize_stream(s) for s in page.results]
        return FindJobStreamsResult(
            **self._listing(
                client,
                as_of,
                page.count,
                offset,
                len(items),
                "js:" + (query or ""),
                page.next is not None,
                page.local_note,
            ),
            job_streams=items,
        )

    async def get_job_stream(self, *, engine: str | None, job_stream: str, max_jobs: int = 100) -> JobStreamDetail:
        client = self.engines.get(engine)
        as_of = self.clock.now()
        ref = job_stream.strip() if isinstance(job_stream, str) else job_stream
        if is_plan_id(ref):
            s = await client.get_job_stream(ref)
        else:
            m = _STREAM_REF.match(ref) if isinstance(ref, str) and len(ref) <= 100 else None
            if not m:
                raise InvalidArgument(
                    f"{_shown(ref)} is neither a job stream id nor a job stream name.",
                    hint="Pass the id from find_job_streams or a name such as FIN_DAILY_0001.",
                )
            oql = f.conjunction(
                [f.match("name", m["js"].upper()), f.match("workstation", "/" + m["ws"].upper()) if m["ws"] else None]
            )
            page = await client.query_job_streams(oql=f"{oql} ORDER BY schedTime DESC", limit=6)
            if not page.results:
                raise NotFound(f"No job stream {_shown(ref)} is in the plan of engine '{client.engine}'.")
            if len(page.results) > 1:
                shown = "; ".join(f"{x.workstation}#{x.name} sched {x.sched_time} id {x.id}" for x in page.results[:5])
                raise InvalidArgument(
                    f"Several job stream instances match {_shown(ref)}: {shown}.",
                    hint="Pass the id of the instance you mean.",
                )
            s = await client.get_job_stream(page.results[0].id)
        jobs = [summarize_job(j) for j in (s.jobs or [])]
        return JobStreamDetail(
            engine=client.engine,
            as_of=as_of,
            job_stream=summarize_stream(s),
            jobs=jobs[:max_jobs],
            jobs_truncated=len(jobs) > max_jobs,
            dependencies=[describe_dep(d) for d in (s.dependencies or [])],
        )

    # ------------------------------------------------- workstations, resources, prompts
    async def list_workstations(
        self,
        *,
        engine: str | None,
        name: str | None = None,
        linked: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> WorkstationsResult:
        client = self.engines.get(engine)
        n = self._limit(limit)
        p = f.name_pattern(name, "workstation")
        oql = f.conjunction(
            [
                f.match("name", p) if p else None,
                None if linked is None else ("activeStates IN ['LINKED']" if linked else "activeStates != 'LINKED'"),
            ]
        )
        query = oql or ""
        offset = f.decode_cursor(cursor, "ws:" + query)
        as_of = self.clock.now()
        page = await client.query_workstations(oql=oql, limit=n, offset=offset)
        items = []
        for w in page.results:
            states = w.active_states or []
            is_linked = "LINKED" in states or w.type == "MANAGER"
            running = "RUNNING" in states
            blocking = None
            if not is_linked:
                blocking = "unlinked: jobs cannot be launched here until it is linked"
            elif not running:
                blocking = "stopped: jobs wait until it is started"
            elif w.limit == 0:
                blocking = "job limit is 0: no job can start"
            elif w.fence:
                blocking = f"fence {w.fence}: jobs with priority <= {w.fence} do not start"
            items.append(
                WorkstationView(
                    id=w.id,
                    name=w.name,
                    type=w.type,
                    linked=is_linked,
                    running=running,
                    states=states,
                    fence=w.fence,
                    limit=w.limit,
                    node=w.node_name,
                    blocking=blocking,
                )
            )
        return WorkstationsResult(
            **self._listing(client, as_of, page.count, offset, len(items), "ws:" + query, False, page.local_note),
            workstations=items,
        )

    async def list_resources(
        self, *, engine: str | None, name: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> ResourcesResult:
        client = self.engines.get(engine)
        n = self._limit(limit)
        p = f.name_pattern(name, "resource")
        oql = f.match("name", p) if p else None
        offset = f.decode_cursor(cursor, "res:" + (oql or ""))
        as_of = self.clock.now()
        page = await client.query_resources(oql=oql, limit=n, offset=offset)
        items = [
            ResourceView(
                id=r.id,
                name=r.name,
                workstation=r.workstation,
                quantity=r.quantity,
                available=r.quantity_available,
                in_use=r.quantity_in_use,
                holders=len(r.holders or []),
            )
            for r in page.results
        ]
        return ResourcesResult(
            **self._listing(
                client, as_of, page.count, offset, len(items), "res:" + (oql or ""), False, page.local_note
            ),
            resources=items,
        )

    async def list_prompts(
        self, *, engine: str | None, waiting_only: bool = False, limit: int | None = None, cursor: str | None = None
    ) -> PromptsResult:
        client = self.engines.get(engine)
        n = self._limit(limit)
        key = f"pr:{waiting_only}"
        offset = f.decode_cursor(cursor, key)
        as_of = self.clock.now()
        # Whether the engine filters prompts on status is not confirmed: filter here, not in OQL.
        page = await client.query_prompts(limit=1000 if waiting_only else n, offset=0 if waiting_only else offset)
        all_items = [
            PromptView(
                id=p.id,
                name=p.name,
                text=joblog.clean(p.text or ""),
                status=p.status,
                waiting_for_reply=_waiting(p.status),
                asked=p.time_asked,
                job_id=p.job_id,
            )
            for p in page.results
        ]
        waiting = sum(1 for p in all_items if p.waiting_for_reply)
        if waiting_only:
            selected = [p for p in all_items if p.waiting_for_reply]
            total: int | None = len(selected)
            items = selected[offset : offset + n]
        else:
            total, items = page.count, all_items
        return PromptsResult(
            **self._listing(client, as_of, total, offset, len(items), key, False),
            prompts=items,
            waiting_for_reply=waiting,
        )

    # ------------------------------------------------------------------ summary
    async def plan_summary(self, *, engine: str | None) -> PlanSummary:
        client = self.engines.get(engine)
        as_of = self.clock.now()
        by_status = await client.count_jobs(grouping=["status"])
        by_ws = await client.count_jobs(grouping=["workstation"])

        async def count(oql: str) -> int:
            return (await client.query_jobs(oql=oql, limit=1)).count or 0

        critical = await count("jobOptions.critical = true")
        late = await count("jobStatusFlags.jobLate = true")
        held = await count("lastRunCommonStatus = 'HELD'")
        first = await client.query_job_streams(oql="ORDER BY schedTime ASC", limit=1, include_count=False)
        last = await client.query_job_streams(oql="ORDER BY schedTime DESC", limit=1, include_count=False)
        statuses = {k.split(":", 1)[1]: v for k, v in by_status.grouped_count.items() if k.startswith("status:")}
        common: dict[str, int] = {}
        for s, v in statuses.items():
            c = COMMON_OF.get(s, "UNDECIDED")
            common[c] = common.get(c, 0) + v
        if held:
            common["HELD"] = held
            common["WAITING"] = max(0, common.get("WAITING", 0) - held)
        ws_counts = {k.split(":", 1)[1]: v for k, v in by_ws.grouped_count.items() if k.startswith("workstation:")}
        top = dict(sorted(ws_counts.items(), key=lambda kv: -kv[1])[:20])
        return PlanSummary(
            engine=client.engine,
            as_of=as_of,
            total_jobs=by_status.count,
            by_status=dict(sorted(statuses.items(), key=lambda kv: -kv[1])),
            by_common_status=dict(sorted(common.items(), key=lambda kv: -kv[1])),
            by_workstation=top,
            workstations_total=len(ws_counts),
            critical_jobs=critical,
            late_jobs=late,
            held_jobs=held,
            error_jobs=common.get("ERROR", 0),
            plan_window_start=first.results[0].sched_time if first.results else None,
            plan_window_end=last.results[0].sched_time if last.results else None,
        )


def _waiting(status: str | None) -> bool:
    return (status or "").strip().upper().replace(" ", "_") in ("ASKED", "PROMPT_ASKED")


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else type(value).__name__
    return repr(text[:60]).encode("ascii", "backslashreplace").decode()
