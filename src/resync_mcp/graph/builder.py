"""Building the graph from the plan through the HWA client: every job with its dependencies
(``scope: WHOLE``), every job stream and workstation, paged; and the pieces the one-job walks
(local.py) and the refresh (refresh.py) share: a job's node and edges, its fingerprint (status,
times, hold, priority, unresolved dependencies), and batched reads by id.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import datetime

import anyio

from resync_mcp.graph.model import Edge, Node, PlanGraph
from resync_mcp.tws.client import HwaClient
from resync_mcp.tws.models import JobInPlanV2, WorkstationInPlanV2

PAGE = 500
_DURATION = re.compile(r"^P(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def seconds(duration: str | None) -> float:
    """ISO-8601 time durations as HWA writes them (PT1H2M3S); anything else counts as 0."""
    m = _DURATION.match(duration or "")
    if not m:
        return 0.0
    h, mi, s = (float(x) if x else 0.0 for x in m.groups())
    return h * 3600 + mi * 60 + s


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def fingerprint(j: JobInPlanV2) -> str:
    run = j.last_run
    times = run.time_info if run else None
    unresolved = j.dependencies_stats.number_of_unresolved_dependencies if j.dependencies_stats else None
    return "|".join(
        str(x)
        for x in (
            j.internal_status,
            j.last_run_common_status,
            j.priority,
            unresolved,
            run.id if run else None,
            times.actual_start_time if times else None,
            times.actual_end_time if times else None,
        )
    )


def _shared(value: str | None) -> str | None:
    """One string object per distinct value (statuses, streams, workstations repeat across
    100,000 nodes; each parsed page would otherwise bring its own copies)."""
    return None if value is None else sys.intern(value)


def job_node(j: JobInPlanV2, blocking: dict[str, str]) -> Node:
    run = j.last_run
    times = run.time_info if run else None
    tr = j.time_restrictions
    status = j.internal_status
    reason = None
    if status in ("READY", "FENCE") and j.workstation in blocking:
        reason = blocking[j.workstation]
    if status == "FENCE" and reason is None:
        reason = f"priority {j.priority} is not above the fence of {j.workstation}"
    return Node(
        id=j.id,
        kind="job",
        name=j.name,
        status=_shared(status),
        stream=_shared(j.job_stream_id),
        stream_name=_shared(j.job_stream_name),
        workstation=_shared(j.workstation),
        critical=bool(j.job_options and j.job_options.critical),
        deadline=_instant(tr.deadline_time) if tr else None,
        duration_s=seconds(j.job_definition.estimated_duration if j.job_definition else None),
        start=_instant(times.actual_start_time) if times else None,
        end=_instant(times.actual_end_time) if times else None,
        held=j.last_run_common_status == "HELD",
        blocked_reason=reason,
        fingerprint=hash(fingerprint(j)),
    )


def add_job(g: PlanGraph, j: JobInPlanV2, blocking: dict[str, str]) -> None:
    g.add_node(job_node(j, blocking))
    if j.job_stream_id:
        g.add_edge(Edge(j.id, j.job_stream_id, "MEMBER", None))
    for dep in j.dependencies or []:
        t = dep.dependency_type or "?"
        src: str | None = None
        if t in ("INTERNAL", "EXTERNAL_JOB") and dep.job_id:
            src = dep.job_id
        elif t == "EXTERNAL_JOBSTREAM" and dep.job_stream_id:
            src = dep.job_stream_id
        elif t == "RESOURCE" and dep.name:
            src = _aux(g, "resource", dep.name, dep.satisfied, f"resource {dep.name}: not enough available")
        elif t == "PROMPT" and dep.prompt_name:
            src = _aux(g, "prompt", dep.prompt_name, dep.satisfied, f"prompt {dep.prompt_name} not answered yes")
        elif t == "FILE" and dep.qualifier:
            src = _aux(g, "file", dep.qualifier, dep.satisfied, f"file {dep.qualifier} not there")
        if src is not None:
            g.add_edge(Edge(src, j.id, t, dep.satisfied))


def _add_jobs(g: PlanGraph, jobs: list[JobInPlanV2], blocking: dict[str, str]) -> None:
    for j in jobs:
        add_job(g, j, blocking)


def _aux(g: PlanGraph, kind: str, name: str, satisfied: bool | None, reason: str) -> str:
    node_id = f"{kind}:{name}"
    node = g.nodes.get(node_id)
    if node is None:
        node = Node(node_id, kind, name)
        g.add_node(node)
    if satisfied is False:
        node.blocked_reason = reason
    return node_id


def _blocking(ws: WorkstationInPlanV2) -> str | None:
    states = set(ws.active_states or [])
    if "LINKED" not in states and ws.type != "MANAGER":
        return f"workstation {ws.name} is not linked"
    if "RUNNING" not in states:
        return f"workstation {ws.name} is stopped"
    if ws.limit == 0:
        return f"workstation {ws.name} has a job limit of 0"
    return None


async def _workstations(client: HwaClient, g: PlanGraph) -> dict[str, str]:
    page = await client.query_workstations(limit=PAGE)
    blocking: dict[str, str] = {}
    for ws in page.results:
        reason = _blocking(ws)
        key = ws.key or f"/{ws.name}"
        node = Node(ws.id, "workstation", ws.name, status=",".join(ws.active_states or []), blocked_reason=reason)
        g.add_node(node)
        if reason:
            blocking[key] = reason
    return blocking


async def build(
    client: HwaClient, now: datetime, *, on_page: Callable[[int, int | None], None] | None = None
) -> PlanGraph:
    g = PlanGraph(as_of=now)
    blocking = await _workstations(client, g)
    offset = 0
    while True:
        streams = await client.query_job_streams(limit=PAGE, offset=offset)
        for s in streams.results:
            status = s.composite_status.status if s.composite_status else None
            g.add_node(Node(s.id, "jobstream", s.name, status=status))
        offset += len(streams.results)
        if not streams.results or streams.next is None:
            break
    offset = 0
    while True:
        page = await client.query_jobs(limit=PAGE, offset=offset, scope="WHOLE", fresh=True, remember=False)
        # In a worker thread: the graph is not published before the build ends, and the
        # server's loop serves other calls meanwhile.
        await anyio.to_thread.run_sync(_add_jobs, g, page.results, blocking)
        offset += len(page.results)
        if on_page is not None:
            on_page(offset, page.count)
        if not page.results or page.next is None:
            break
    return g


BATCH = 40  # ids per IN list: a URL stays well under common limits


async def jobs_where(client: HwaClient, field: str, ids: list[str]) -> list[JobInPlanV2]:
    """The jobs whose ``field`` is one of ``ids``, with their dependencies, in batched queries."""
    out: list[JobInPlanV2] = []
    for i in range(0, len(ids), BATCH):
        quoted = ", ".join(f"'{x}'" for x in ids[i : i + BATCH])
        offset = 0
        while True:
            page = await client.query_jobs(
                oql=f"{field} IN [{quoted}]", limit=PAGE, offset=offset, scope="WHOLE", fresh=True, remember=False
            )
            out += page.results
            offset += len(page.results)
            if not page.results or page.next is None:
                break
    return out
