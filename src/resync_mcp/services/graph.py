"""Graph answers for the tools: impact of a failure, root cause, critical path and deadline risk.

Impact, root cause and a job's critical path read the one job's neighbourhood (graph/local.py)
unless a whole-plan graph read within ``max_age_s`` is at hand. A job stream's critical path uses
the whole-plan graph: one per engine, built on first use and refreshed incrementally when older
than ``max_age_s``; a lock per engine makes concurrent callers share one build or refresh. Every
answer carries its ``as_of``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from resync_mcp.clock import Clock
from resync_mcp.errors import InvalidArgument, NotFound
from resync_mcp.graph import analysis as a
from resync_mcp.graph import local
from resync_mcp.graph.model import PlanGraph
from resync_mcp.graph.store import GraphStore
from resync_mcp.graph.whole import WholePlan
from resync_mcp.services.graph_views import (
    CauseView,
    CriticalPathResult,
    DeadlineRisks,
    GraphJob,
    ImpactResult,
    RiskView,
    RootCauseResult,
)
from resync_mcp.services.plan import PlanService
from resync_mcp.tws.client import HwaClient, is_plan_id

_SHOW = 25


class GraphService:
    def __init__(
        self,
        plan: PlanService,
        clock: Clock,
        store: GraphStore,
        *,
        max_age_s: float = 60.0,
        walk_max_jobs: int = 5000,
        walk_budget_s: float = 10.0,
        full_check_s: float = 600.0,
    ) -> None:
        self.plan = plan
        self.clock = clock
        self.store = store
        self.max_age_s = max_age_s
        self.walk_max_jobs, self.walk_budget_s = walk_max_jobs, walk_budget_s
        self.whole = WholePlan(clock, store, max_age_s, full_check_s)

    async def graph(self, engine: str | None) -> tuple[str, PlanGraph]:
        """The whole-plan graph, waiting for its build or refresh (tests, and nothing on a call's path)."""
        client = self.plan.engines.get(engine)
        s = await self.whole.wait(client)
        assert s.graph is not None
        return client.engine, s.graph

    def invalidate(self, engine: str, touched: Iterable[str] = ()) -> None:
        """After a write: the next plan-wide question refreshes the graph (changed jobs only)."""
        self.whole.invalidate(engine, touched)

    async def _job_id(self, engine: str | None, job: str) -> str:
        if is_plan_id(job):
            return job
        client = self.plan.engines.get(engine)
        return (await self.plan.resolve_job(client, job)).id

    @staticmethod
    def _view(g: PlanGraph, node_id: str) -> GraphJob:
        n = g.nodes[node_id]
        return GraphJob(
            id=n.id, name=n.name, job_stream=n.stream_name, status=n.status, critical=n.critical, deadline=n.deadline
        )

    def _need(self, g: PlanGraph, node_id: str, engine: str) -> None:
        if node_id not in g.nodes:
            raise NotFound(
                f"Job {node_id} is not in the dependency graph of engine '{engine}'.",
                hint="It may have been added since the graph was read; try again in a minute.",
            )

    async def _walk(self, walker: local.Walker, client: HwaClient, job_id: str) -> tuple[PlanGraph, str | None]:
        """One of graph/local.py's walks, within this service's bounds; the graph is as of now."""
        ends = self.clock.monotonic() + self.walk_budget_s
        walk = await walker(
            client, job_id, max_nodes=self.walk_max_jobs, out_of_time=lambda: self.clock.monotonic() >= ends
        )
        walk.graph.as_of = self.clock.now()
        return walk.graph, walk.cut

    def _fresh(self, engine: str) -> PlanGraph | None:
        """The whole-plan graph, when one was read within ``max_age_s``."""
        return self.whole.fresh(engine)

    async def impact(self, *, engine: str | None, job: str) -> ImpactResult:
        return (await self.impact_and_graph(engine=engine, job=job))[0]

    async def impact_and_graph(self, *, engine: str | None, job: str) -> tuple[ImpactResult, PlanGraph]:
        """From a fresh whole-plan graph when there is one; otherwise from the job's downstream
        alone, read level by level (graph/local.py): the cost follows the answer, not the plan.
        The graph it used comes along (a control preview counts the direct successors in it)."""
        job_id = await self._job_id(engine, job)
        client = self.plan.engines.get(engine)
        name = client.engine
        cut = None
        whole = self._fresh(name)
        if whole is not None and job_id in whole.nodes:
            g, found = whole, await self.store.impact(name, job_id)
        else:
            g, cut = await self._walk(local.downstream, client, job_id)
            found = a.impact(g, job_id)
        self._need(g, job_id, name)
        by_stream = dict(sorted(found.by_stream.items(), key=lambda kv: (-kv[1], kv[0]))[:_SHOW])
        notes = [f"showing {_SHOW} of each list; totals are complete"] if len(found.blocked) > _SHOW else []
        if cut:
            notes = [f"the walk downstream {cut}: the totals count what was read, and more may be blocked"]
        result = ImpactResult(
            engine=name,
            as_of=g.as_of or self.clock.now(),
            job=self._view(g, job_id),
            blocked_total=len(found.blocked),
            by_job_stream=by_stream,
            critical_affected=[self._view(g, j) for j in found.critical[:_SHOW]],
            deadlines_affected=[self._view(g, j) for j, _ in found.deadlines[:_SHOW]],
            nearest=[self._view(g, j) for j in found.blocked[:_SHOW]],
            truncated=cut is not None or found.truncated or len(found.blocked) > _SHOW,
            note="; ".join(notes) or None,
        )
        return result, g

    async def root_cause(self, *, engine: str | None, job: str) -> RootCauseResult:
        """Like impact: a fresh whole-plan graph, or what holds the job read upward for it."""
        job_id = await self._job_id(engine, job)
        client = self.plan.engines.get(engine)
        name = client.engine
        whole = self._fresh(name)
        cut = None
        if whole is not None and job_id in whole.nodes:
            g, causes = whole, await self.store.root_cause(name, job_id)
        else:
            g, cut = await self._walk(local.upstream, client, job_id)
            causes = a.root_cause(g, job_id)
        self._need(g, job_id, name)
        views = [
            CauseView(
                node=c.node,
                kind=c.kind,
                name=g.nodes[c.node].name if c.node in g.nodes else c.node,
                reason=c.reason,
                path=[g.nodes[p].name if p in g.nodes else p for p in c.path],
            )
            for c in causes[:_SHOW]
        ]
        note = None
        if not views:
            status = g.nodes[job_id].status
            note = f"Nothing holds it: the job is {status}." if status else "Nothing holds it."
        if cut:
            note = f"The walk upward {cut}: more causes may lie further up." + (f" {note}" if note else "")
        return RootCauseResult(
            engine=name, as_of=g.as_of or self.clock.now(), job=self._view(g, job_id), causes=views, note=note
        )

    async def critical_path(self, *, engine: str | None, target: str) -> CriticalPathResult:
        """For a job, or a job stream (its job whose deadline is most at risk, else its last to
        finish): from a fresh whole-plan graph when there is one, else from the predecessors of
        the job (or of the stream's jobs) alone, read upward for it (graph/local.py)."""
        client = self.plan.engines.get(engine)
        name = client.engine
        stream = is_plan_id(target) and not await self._is_job(client, target)
        job_id = target if stream or is_plan_id(target) else await self._job_id(engine, target)
        cut = None
        g = self._fresh(name)
        if g is None or job_id not in g.nodes:
            g, cut = await self._walk(local.stream_ancestors if stream else local.ancestors, client, job_id)
        now = g.as_of or self.clock.now()
        self._need(g, job_id, name)
        finishes = a.Finishes(g, now)
        if stream:
            members = [e.src for e in g.preds.get(job_id, ()) if e.type == "MEMBER"]
            if not members:
                raise InvalidArgument(f"Job stream {g.nodes[job_id].name} has no jobs in the plan.")
            paths = [finishes.path(m) for m in members]
            with_deadline = [p for p in paths if p.slack_s is not None]
            best = (
                min(with_deadline, key=lambda p: p.slack_s or 0.0)
                if with_deadline
                else max(paths, key=lambda p: p.finish)
            )
        else:
            best = finishes.path(job_id)
        why = f"the walk upward {cut}: predecessors further up were not counted" if cut else None
        return self._path_result(name, g, best, now, why)

    async def _is_job(self, client: HwaClient, plan_id: str) -> bool:
        try:
            await client.get_job(plan_id)
        except NotFound:
            return False
        return True

    async def deadlines_at_risk(self, *, engine: str | None, limit: int = 10) -> DeadlineRisks:
        """Plan-wide: every unfinished job expected to miss its deadline, from the whole-plan
        graph kept in the background. Never waits for it: before its first read completes, the
        answer says how far the read is and lists what the engine already flags late."""
        client = self.plan.engines.get(engine)
        s = self.whole.current(client)
        g = s.graph
        progress = None
        if s.task is not None:
            took = self.clock.monotonic() - s.started
            if g is not None:  # a refresh reads what moved: there is no total to count against
                progress = f"refreshing the plan graph in the background, started {took:.0f} s ago"
            else:
                of = f" of {s.total:,}" if s.total else ""
                pct = f" ({100 * s.done // s.total}%)" if s.total else ""
                progress = (
                    f"reading the whole plan in the background: {s.done:,}{of} jobs read{pct}, started {took:.0f} s ago"
                )
        notes = [f"the last read failed ({s.error}); it is retried on the next question"] if s.error else []
        if g is None:
            late = await self.plan.find_jobs(engine=engine, late=True, limit=limit)
            notes.append("ask again shortly for the expected finishes; the engine's late flag is shown meanwhile")
            return DeadlineRisks(
                engine=client.engine,
                ready=False,
                as_of=self.clock.now(),
                progress=progress,
                at_risk_total=None,
                at_risk=[],
                late_now=[
                    GraphJob(id=j.id, name=j.name, job_stream=j.job_stream, status=j.status, critical=j.critical)
                    for j in late.jobs
                ],
                late_now_total=late.total,
                note="; ".join(notes),
            )
        shown = s.risks[:limit]
        if len(s.risks) > limit:
            notes.append(f"truncated, {len(s.risks) - limit} more")
        return DeadlineRisks(
            engine=client.engine,
            ready=True,
            as_of=g.as_of or self.clock.now(),
            progress=progress,
            at_risk_total=len(s.risks),
            at_risk=[
                RiskView(
                    job=self._view(g, p.target),
                    expected_finish=p.finish.replace(microsecond=0),
                    slack_s=round(p.slack_s or 0.0, 1),
                    driver=g.nodes[p.path[0]].name if len(p.path) > 1 else None,
                )
                for p in shown
                if p.target in g.nodes
            ],
            late_now=[],
            note="; ".join(notes) or None,
        )

    def _path_result(
        self, name: str, g: PlanGraph, best: a.CriticalPath, now: datetime, cut: str | None
    ) -> CriticalPathResult:
        path = [self._view(g, n) for n in best.path]
        notes = [cut] if cut else []
        if best.cycle:
            notes.append(f"a dependency cycle was met and skipped: {' -> '.join(g.nodes[c].name for c in best.cycle)}")
        if best.deadline is None:
            notes.append("the target has no deadline: only its expected finish is known")
        return CriticalPathResult(
            engine=name,
            as_of=g.as_of or now,
            target=self._view(g, best.target),
            expected_finish=best.finish.replace(microsecond=0),
            deadline=best.deadline,
            slack_s=None if best.slack_s is None else round(best.slack_s, 1),
            at_risk=best.at_risk,
            driver=path[0] if len(path) > 1 else None,
            path=path[-_SHOW:],
            note="; ".join(notes) or None,
        )
