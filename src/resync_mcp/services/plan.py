"""Read-side plan services: what the read tools do, independent of MCP."""

from __future__ import annotations

import re
from collections import deque
from datetime import datetime

from resync_mcp.errors import InvalidArgument, NotFound
from resync_mcp.services import filters as f
from resync_mcp.services import joblog
from resync_mcp.services.catalog import CatalogQueries, _shown
from resync_mcp.services.summaries import allowed_actions, describe_dep, summarize_job
from resync_mcp.services.views import (
    DependenciesResult,
    DependencyNode,
    FindJobsResult,
    JobDetail,
    JobInfoView,
    JobLogResult,
    LogLineView,
    RunView,
)
from resync_mcp.tws.client import HwaClient, is_plan_id
from resync_mcp.tws.models import JobInPlanV2

_JOB_REF = re.compile(
    r"^(?:/?(?P<ws>[A-Za-z0-9_\-]{1,16})#)?(?P<folder>/(?:[A-Za-z0-9_\-]+/)*)?"
    r"(?P<js>[A-Za-z0-9_\-]{1,40})\.(?P<job>[A-Za-z0-9_\-]{1,40})$"
)


class PlanService(CatalogQueries):
    """Jobs here; job streams, workstations, resources, prompts and the summary in catalog.py."""

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
            **self._listing(
                client, as_of, page.count, offset, len(jobs), query or "", page.next is not None, page.local_note
            ),
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
        j = await self.resolve_job(client, job)
        # The client hands out the same model for the same cached answer: so is the view of it,
        # as of when it was built (the pipeline's freshness stage dates it by its data, copying).
        kept = self._details.get(id(j))
        if kept is not None and kept[0] is j and kept[1].engine == client.engine:
            return kept[1]
        detail = self._detail(client.engine, self.clock.now(), j)
        self._details[id(j)] = (j, detail)
        if len(self._details) > 256:
            self._details.popitem(last=False)
        return detail

    @staticmethod
    def _detail(engine: str, as_of: datetime, j: JobInPlanV2) -> JobDetail:
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
            engine=engine,
            as_of=as_of,
            job=summarize_job(j),
            key=j.key,
            time_restrictions=tr,
            requires_confirmation=bool(j.job_options and j.job_options.requires_confirmation),
            estimated_duration=j.job_definition.estimated_duration if j.job_definition else None,
            dependencies=deps,
            unresolved_dependencies=unresolved,
            runs=runs,
            allowed_actions=allowed_actions(
                j.internal_status, held, unresolved, [a.key for a in (j.actions or []) if a.key]
            ),
            engine_actions=[a.key for a in (j.actions or []) if a.key],
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
