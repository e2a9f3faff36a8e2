"""Read-side plan services: what the read tools do, independent of MCP."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from resync_mcp.clock import Clock
from resync_mcp.config import LimitSettings
from resync_mcp.errors import InvalidArgument, NotFound
from resync_mcp.services import filters as f
from resync_mcp.services import joblog
from resync_mcp.services.engines import EngineRegistry
from resync_mcp.services.summaries import allowed_actions, describe_dep, summarize_job, summarize_stream
from resync_mcp.services.views import (
    DependenciesResult,
    DependencyNode,
    FindJobsResult,
    FindJobStreamsResult,
    JobDetail,
    JobInfoView,
    JobLogResult,
    JobStreamDetail,
    LogLineView,
    PlanSummary,
    PromptsResult,
    PromptView,
    ResourcesResult,
    ResourceView,
    RunView,
    WorkstationsResult,
    WorkstationView,
)
from resync_mcp.tws.client import HwaClient, is_plan_id
from resync_mcp.tws.models import JobInPlanV2
from resync_mcp.tws.status import COMMON_OF

_JOB_REF = re.compile(
    r"^(?:/?(?P<ws>[A-Za-z0-9_\-]{1,16})#)?(?P<folder>/(?:[A-Za-z0-9_\-]+/)*)?"
    r"(?P<js>[A-Za-z0-9_\-]{1,40})\.(?P<job>[A-Za-z0-9_\-]{1,40})$"
)
_STREAM_REF = re.compile(
    r"^(?:/?(?P<ws>[A-Za-z0-9_\-]{1,16})#)?(?P<folder>/(?:[A-Za-z0-9_\-]+/)*)?"
    r"(?P<js>[A-Za-z0-9_\-]{1,40})$"
)


@dataclass
class PlanService:
    engines: EngineRegistry
    limits: LimitSettings
    clock: Clock

    def _limit(self, limit: int | None) -> int:
        n = self.limits.default_limit if limit is None else limit
        if not 1 <= n <= self.limits.max_limit:
            raise InvalidArgument(
                f"limit must be between 1 and {self.limits.max_limit}; got {n}.",
                hint="Page through results with next_cursor instead of a large limit.",
            )
        return n

    @staticmethod
    def _listing(
        client: HwaClient, as_of: datetime, total: int | None, offset: int, returned: int, key: str, has_next: bool
    ) -> dict[str, Any]:
        """The Listing fields of one page: totals, an honest truncation note, the next cursor."""
        more = None if total is None else total - offset - returned
        truncated = (more is not None and more > 0) or has_next
        note = None
        if truncated:
            note = f"truncated, {more} more; pass next_cursor to continue" if more else "truncated; pass next_cursor"
        return {
            "engine": client.engine,
            "as_of": as_of,
            "total": total,
            "returned": returned,
            "truncated": truncated,
            "next_cursor": f.Cursor(offset + returned, key).encode() if truncated else None,
            "note": note,
        }

    # -------------------------------------------------------------------- jobs
    async def find_jobs(
        self,
        *,
        engine: str | None,
        status: list[str] | None = None,
        name: str | None = None,
        job_stream: str | None = None,
        workstation: str | None = None,
        folder: str | None = None,
        critical: bool | None = None,
        late: bool | None = None,
        since: str | None = None,
        until: str | None = None,
        sort: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> FindJobsResult:
        client = self.engines.get(engine)
        n = self._limit(limit)
        ws = f.name_pattern(workstation, "workstation")
        since_i, until_i = f.iso_instant(since, "since"), f.iso_instant(until, "until")
        if since_i and until_i and until_i < since_i:
            raise InvalidArgument("until is before since.", hint="Swap the two times.")
        oql = f.conjunction(
            [
                f.status_terms(
                    status, internal_field="lastRunCompositeStatus.status", common_field="lastRunCommonStatus"
                ),
                f.match("name", p) if (p := f.name_pattern(name, "job name")) else None,
                f.match("jobStreamName", p) if (p := f.name_pattern(job_stream, "job stream")) else None,
                f.match("workstation", "/" + ws) if ws else None,
                f.match("folder", p) if (p := f.folder_pattern(folder)) else None,
                None if critical is None else f"jobOptions.critical = {str(critical).lower()}",
                None if late is None else f"jobStatusFlags.jobLate = {str(late).lower()}",
                f"schedTime >= '{since_i}'" if since_i else None,
                f"schedTime <= '{until_i}'" if until_i else None,
            ]
        )
        order = f.order_by(sort)
        query = " ".join(x for x in (oql, order) if x) or None
        offset = f.decode_cursor(cursor, query or "")
        as_of = self.clock.now()
        page = await client.query_jobs(oql=query, limit=n, offset=offset)
        jobs = [summarize_job(j) for j in page.results]
        return FindJobsResult(
            **self._listing(client, as_of, page.count, offset, len(jobs), query or "", page.next is not None),
            jobs=jobs,
        )

    async def resolve_job(self, client: HwaClient, ref: str, *, fresh: bool = False) -> JobInPlanV2:
        """A job by id, or by ``[WS#][/FOLDER/]JOBSTREAM.JOB``; ``fresh`` reads it past the cache.

        Raises:
            InvalidArgument: malformed reference, or several jobs match.
            NotFound: nothing matches.
        """
        ref = ref.strip() if isinstance(ref, str) else ref
        if is_plan_id(ref):
            return await client.get_job(ref, fresh=fresh)
        m = _JOB_REF.match(ref) if isinstance(ref, str) and len(ref) <= 140 else None
        if not m:
            raise InvalidArgument(
                f"{_shown(ref)} is neither a job id nor a job reference.",
                hint="Pass the job's id (a UUID from find_jobs) or JOBSTREAM.JOB, "
                "optionally WORKSTATION#JOBSTREAM.JOB.",
            )
        oql = f.conjunction(
            [
                f.match("name", m["job"].upper()),
                f.match("jobStreamName", m["js"].upper()),
                f.match("workstation", "/" + m["ws"].upper()) if m["ws"] else None,
                f.match("folder", m["folder"].upper()) if m["folder"] else None,
            ]
        )
        page = await client.query_jobs(oql=oql, limit=6)
        if not page.results:
            raise NotFound(
                f"No job {_shown(ref)} is in the plan of engine '{client.engine}'.",
                hint="Check the spelling with find_jobs (name patterns accept '*').",
            )
        if len(page.results) > 1:
            shown = "; ".join(
                f"{j.workstation}#{j.job_stream_name}.{j.name} sched {j.sched_time} id {j.id}" for j in page.results[:5]
            )
            raise InvalidArgument(
                f"{len(page.results)}+ jobs match {_shown(ref)}: {shown}.", hint="Pass the id of the one you mean."
            )
        return await client.get_job(page.results[0].id, fresh=fresh)

    async def get_job(self, *, engine: str | None, job: str) -> JobDetail:
        client = self.engines.get(engine)
        as_of = self.clock.now()
        j = await self.resolve_job(client, job)
        deps = [describe_dep(d) for d in (j.dependencies or [])]
        unresolved = sum(1 for d in deps if d.satisfied is False)
        held = j.last_run_common_status == "HELD"
        runs = [
            RunView(
                id=r.id,
                attempt=r.run_attempt,
                status=r.composite_status.status if r.composite_status else None,
                common_status=r.common_status,
                return_code=r.return_code,
                start=r.time_info.actual_start_time if r.time_info else None,
                end=r.time_info.actual_end_time if r.time_info else None,
                elapsed=r.time_info.elapsed_time if r.time_info else None,
            )
            for r in (j.jobruns or [])[-10:]
        ]
        tr = j.time_restrictions.wire() if j.time_restrictions else {}
        return JobDetail(
            engine=client.engine,
            as_of=as_of,
            job=summarize_job(j),
            key=j.key,
            time_restrictions=tr,
            requires_confirmation=bool(j.job_options and j.job_options.requires_confirmation),
            estimated_duration=j.job_definition.estimated_duration if j.job_definition else None,
            dependencies=deps,
            unresolved_dependencies=unresolved,
            runs=runs,
            allowed_actions=allowed_actions(j.internal_status, held, unresolved),
            engine_actions=[a.key for a in (j.actions or [])],
        )

    async def get_job_log(
        self,
        *,
        engine: str | None,
        job: str,
        run: int | None = None,
        tail: int | None = None,
        from_line: int | None = None,
        to_line: int | None = None,
        search: str | None = None,
        context: int = 2,
        max_bytes: int | None = None,
    ) -> JobLogResult:
        client = self.engines.get(engine)
        lim = self.limits
        if tail is not None and not 1 <= tail <= lim.log_max_lines:
            raise InvalidArgument(f"tail must be between 1 and {lim.log_max_lines}.")
        if (from_line is not None and from_line < 1) or (to_line is not None and to_line < 1):
            raise InvalidArgument("Line numbers start at 1.")
        if from_line is not None and to_line is not None and to_line < from_line:
            raise InvalidArgument(f"to_line ({to_line}) is before from_line ({from_line}).")
        if not 0 <= context <= 10:
            raise InvalidArgument("context must be between 0 and 10 lines.")
        cap = lim.log_max_bytes if max_bytes is None else max_bytes
        if not 256 <= cap <= lim.log_max_bytes:
            raise InvalidArgument(f"max_bytes must be between 256 and {lim.log_max_bytes}.")
        if search is not None:
            joblog.compile_search(search)  # reject a bad pattern before any HWA call
        as_of = self.clock.now()
        j = await self.resolve_job(client, job)
        runs = j.jobruns or []
        if not runs:
            raise NotFound(f"Job {j.name} has no runs yet, so it has no log.")
        if run is None:
            chosen = runs[-1]
        else:
            match = [r for r in runs if r.run_attempt == run]
            if not match:
                raise InvalidArgument(f"Job {j.name} has no run attempt {run}; it has {len(runs)}.")
            chosen = match[0]
        text = await client.get_job_log(chosen.id)
        v = joblog.view(
            text,
            tail=tail,
            from_line=from_line,
            to_line=to_line,
            search=search,
            context=context,
            max_lines=lim.log_max_lines if tail or from_line or search else lim.log_default_lines,
            max_bytes=cap,
            regex_timeout_s=lim.regex_timeout_ms / 1000,
        )
        info = v.jobinfo
        return JobLogResult(
            engine=client.engine,
            as_of=as_of,
            job_id=j.id,
            job_name=j.name,
            run_id=chosen.id,
            total_lines=v.total_lines,
            lines=[LogLineView(n=ln.n, text=ln.text) for ln in v.lines],
            first_errors=[LogLineView(n=ln.n, text=ln.text) for ln in v.first_errors],
            jobinfo=JobInfoView(
                exit_status=info.exit_status,
                elapsed=info.elapsed,
                cpu_user_s=info.cpu_user_s,
                cpu_system_s=info.cpu_system_s,
            )
            if info
            else None,
            matches=v.matches,
            truncated=v.truncated,
            notes=v.notes,
        )

    async def job_dependencies(
        self, *, engine: str | None, job: str, direction: str = "both", depth: int = 1
    ) -> DependenciesResult:
        client = self.engines.get(engine)
        if direction not in ("predecessors", "successors", "both"):
            raise InvalidArgument("direction must be predecessors, successors or both.")
        if not 1 <= depth <= self.limits.max_dependency_depth:
            raise InvalidArgument(f"depth must be between 1 and {self.limits.max_dependency_depth}.")
        as_of = self.clock.now()
        root = await self.resolve_job(client, job)
        cap = self.limits.max_dependency_nodes
        nodes: list[DependencyNode] = []
        truncated = False
        if direction in ("predecessors", "both"):
            truncated |= await self._walk_predecessors(client, root, depth, cap, nodes)
        if direction in ("successors", "both"):
            truncated |= await self._walk_successors(client, root, depth, cap, nodes)
        others = [
            describe_dep(d)
            for d in (root.dependencies or [])
            if d.dependency_type not in ("INTERNAL", "EXTERNAL_JOB", "EXTERNAL_JOBSTREAM")
        ]
        return DependenciesResult(
            engine=client.engine,
            as_of=as_of,
            job=summarize_job(root),
            nodes=nodes,
            other_dependencies=others,
            truncated=truncated,
            note=f"truncated at {cap} nodes; lower depth" if truncated else None,
        )

    async def _walk_predecessors(
        self, client: HwaClient, root: JobInPlanV2, depth: int, cap: int, nodes: list[DependencyNode]
    ) -> bool:
        seen = {root.id}
        queue: deque[tuple[JobInPlanV2, int]] = deque([(root, 0)])
        while queue:
            job, d = queue.popleft()
            if d >= depth:
                continue
            for dep in job.dependencies or []:
                if dep.dependency_type not in ("INTERNAL", "EXTERNAL_JOB") or not dep.job_id or dep.job_id in seen:
                    continue
                if len(nodes) >= cap:
                    return True
                seen.add(dep.job_id)
                pred = await client.get_job(dep.job_id)
                nodes.append(self._node(pred, "predecessor", d + 1, job.id, dep.dependency_type, dep.satisfied))
                queue.append((pred, d + 1))
        return False

    async def _walk_successors(
        self, client: HwaClient, root: JobInPlanV2, depth: int, cap: int, nodes: list[DependencyNode]
    ) -> bool:
        seen = {root.id}
        frontier = [root.id]
        for d in range(depth):
            nxt: list[str] = []
            for job_id in frontier:
                room = cap - len(nodes)
                if room <= 0:
                    return True
                page = await client.query_jobs(oql=f"dependencies.jobId = '{job_id}'", limit=min(room + 1, 500))
                for succ in page.results:
                    if succ.id in seen:
                        continue
                    if len(nodes) >= cap:
                        return True
                    seen.add(succ.id)
                    nodes.append(self._node(succ, "successor", d + 1, job_id, None, None))
                    nxt.append(succ.id)
            frontier = nxt
        return False

    @staticmethod
    def _node(
        j: JobInPlanV2, direction: str, depth: int, via: str, dep_type: str | None, satisfied: bool | None
    ) -> DependencyNode:
        return DependencyNode(
            id=j.id,
            name=j.name,
            job_stream=j.job_stream_name,
            status=j.internal_status,
            common_status=j.last_run_common_status,
            direction=direction,
            depth=depth,
            via=via,
            dependency_type=dep_type,
            satisfied=satisfied,
        )

    # ---------------------------------------------------------------- job streams
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
                client, as_of, page.count, offset, len(items), "js:" + (query or ""), page.next is not None
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
            **self._listing(client, as_of, page.count, offset, len(items), "ws:" + query, False),
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
            **self._listing(client, as_of, page.count, offset, len(items), "res:" + (oql or ""), False),
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
        # PromptStatusType values are not confirmed (hwa-rest-api.md §9.7): filter here, not in OQL.
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
