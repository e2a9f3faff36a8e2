"""The part of the plan one question needs, read from the engine level by level, instead of the
whole plan: a question about one job costs what its answer holds, not what the plan holds.

Downstream (impact of a failure): the successors of a level's jobs come from the engine's own
dependency query, batched (``dependencies.jobId IN [...]``), and the successors of their job
streams likewise (``dependencies.jobStreamId IN [...]``), each read with its dependencies
(``scope: WHOLE``) so that the edges are the whole-plan graph's. Ended jobs are not walked
through, as the impact analysis does not. The walk stops at ``max_nodes`` jobs or when the
time budget is spent, and says so; the analysis then runs unchanged on what was read.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from resync_mcp.errors import NotFound
from resync_mcp.graph.analysis import walk_up, walks_through
from resync_mcp.graph.builder import BATCH, _workstations, add_job, jobs_where
from resync_mcp.graph.model import ENDED, Node, PlanGraph
from resync_mcp.tws.client import HwaClient
from resync_mcp.tws.models import JobInPlanV2


@dataclass
class Walk:
    graph: PlanGraph
    requests: int
    cut: str | None  # why the walk stopped early, or None when it read everything it needed


class Walker(Protocol):
    async def __call__(
        self, client: HwaClient, job_id: str, *, max_nodes: int, out_of_time: Callable[[], bool]
    ) -> Walk: ...


async def downstream(
    client: HwaClient,
    job_id: str,
    *,
    max_nodes: int,
    out_of_time: Callable[[], bool],
) -> Walk:
    before = client.requests_made
    g = PlanGraph()
    blocking = await _workstations(client, g)
    root = await client.get_job(job_id, fresh=True)
    _add(g, root, blocking)
    reached = {root.id}  # what the impact walk reaches from the root: only these are expanded
    jobs, streams = [root.id], []
    if root.job_stream_id:
        reached.add(root.job_stream_id)
        streams.append(root.job_stream_id)
    while jobs or streams:
        found: list[JobInPlanV2] = []
        for field, ids in (("dependencies.jobId", jobs), ("dependencies.jobStreamId", streams)):
            for i in range(0, len(ids), BATCH):
                if out_of_time():
                    return Walk(g, client.requests_made - before, "the time budget was spent")
                found += await jobs_where(client, field, ids[i : i + BATCH])
        jobs, streams = [], []
        for j in found:
            if j.id in reached:
                continue
            if j.id not in g.nodes:
                if g.jobs() >= max_nodes:
                    return Walk(g, client.requests_made - before, f"stopped at {max_nodes} jobs")
                _add(g, j, blocking)
            # A stream's query also answers jobs that depend on other members of it: walk on only
            # from the ones an edge from the reached part leads to (the others may come back later).
            if (j.internal_status or "") in ENDED or not any(e.src in reached for e in g.preds.get(j.id, ())):
                continue
            reached.add(j.id)
            jobs.append(j.id)
            if j.job_stream_id and j.job_stream_id not in reached:
                reached.add(j.job_stream_id)
                streams.append(j.job_stream_id)
    return Walk(g, client.requests_made - before, None)


async def upstream(
    client: HwaClient,
    job_id: str,
    *,
    max_nodes: int,
    out_of_time: Callable[[], bool],
) -> Walk:
    """What holds a job, read upward as the root-cause walk goes: the predecessors of the edges it
    would follow (unsatisfied ones), by id in batches, and for a job stream it walks into, the
    stream's own state and its member jobs. Each round reads what the walk over what is already
    known still lacks; it ends when nothing is lacking."""
    before = client.requests_made
    g = PlanGraph()
    blocking = await _workstations(client, g)
    _add(g, await client.get_job(job_id, fresh=True), blocking)
    absent: set[str] = set()  # asked for, and not in the plan: the analysis reports them missing
    streams_read: set[str] = set()
    while True:
        jobs, streams = _lacking(g, job_id, absent, streams_read)
        if not jobs and not streams:
            return Walk(g, client.requests_made - before, None)
        if out_of_time():
            return Walk(g, client.requests_made - before, "the time budget was spent")
        if g.jobs() >= max_nodes:
            return Walk(g, client.requests_made - before, f"stopped at {max_nodes} jobs")
        wanted = sorted(jobs)
        for j in await jobs_where(client, "id", wanted):
            _add(g, j, blocking)
        absent |= {j for j in wanted if j not in g.nodes}
        for sid in sorted(streams):
            streams_read.add(sid)
            try:
                await _stream(client, g, sid, blocking)
            except NotFound:
                absent.add(sid)


async def ancestors(
    client: HwaClient,
    job_id: str,
    *,
    max_nodes: int,
    out_of_time: Callable[[], bool],
) -> Walk:
    """Every job the critical path of ``job_id`` may run through: its job predecessors, theirs,
    and so on (ended ones too: their actual end counts), read by id in batches, level by level."""
    before = client.requests_made
    g = PlanGraph()
    blocking = await _workstations(client, g)
    _add(g, await client.get_job(job_id, fresh=True), blocking)
    cut = await _predecessors(client, g, [job_id], blocking, max_nodes, out_of_time)
    return Walk(g, client.requests_made - before, cut)


async def stream_ancestors(
    client: HwaClient,
    job_id: str,
    *,
    max_nodes: int,
    out_of_time: Callable[[], bool],
) -> Walk:
    """A job stream's critical path: its own jobs (one query on the stream's id) and their
    predecessors, as ``ancestors`` reads them for one job (``job_id`` is the stream's id)."""
    before = client.requests_made
    g = PlanGraph()
    blocking = await _workstations(client, g)
    members = await _stream(client, g, job_id, blocking)
    cut = await _predecessors(client, g, members, blocking, max_nodes, out_of_time)
    return Walk(g, client.requests_made - before, cut)


async def _stream(client: HwaClient, g: PlanGraph, stream_id: str, blocking: dict[str, str]) -> list[str]:
    """Read a job stream (its own state) and its member jobs (one query on its id) into ``g``;
    jobs already there are kept as read. Returns the members' ids.

    Raises:
        NotFound: the job stream is not in the plan.
    """
    s = await client.get_job_stream(stream_id, fresh=True)
    g.add_node(Node(stream_id, "jobstream", s.name, status=s.composite_status.status if s.composite_status else None))
    members = await jobs_where(client, "jobStreamId", [stream_id])
    for j in members:
        if j.id not in g.nodes:
            _add(g, j, blocking)
    return [j.id for j in members]


async def _predecessors(
    client: HwaClient,
    g: PlanGraph,
    frontier: list[str],
    blocking: dict[str, str],
    max_nodes: int,
    out_of_time: Callable[[], bool],
) -> str | None:
    absent: set[str] = set()
    while frontier:
        wanted = sorted(
            {
                e.src
                for jid in frontier
                for e in g.preds.get(jid, ())
                if e.type in ("INTERNAL", "EXTERNAL_JOB") and e.src not in g.nodes and e.src not in absent
            }
        )
        if not wanted:
            break
        if out_of_time():
            return "the time budget was spent"
        if g.jobs() + len(wanted) > max_nodes:
            return f"stopped at {max_nodes} jobs"
        for j in await jobs_where(client, "id", wanted):
            _add(g, j, blocking)
        absent |= {j for j in wanted if j not in g.nodes}
        frontier = [j for j in wanted if j in g.nodes]
    return None


def _lacking(g: PlanGraph, root: str, absent: set[str], streams_read: set[str]) -> tuple[set[str], set[str]]:
    """The jobs and job streams the root-cause walk (analysis.walk_up) would visit and that are
    not read yet: the walk itself, over what is known, stopping at job streams not read."""
    jobs: set[str] = set()
    streams: set[str] = set()

    def read(node_id: str) -> bool:
        return g.nodes[node_id].kind != "jobstream" or node_id in streams_read

    for edge, node, _ in walk_up(g, root, max_nodes=sys.maxsize, expand=read):
        if node is None and edge.src not in absent:
            (streams if edge.type == "EXTERNAL_JOBSTREAM" else jobs).add(edge.src)
        elif node is not None and walks_through(node) and not read(edge.src):
            streams.add(edge.src)  # its state and members first
    return jobs, streams


def _add(g: PlanGraph, j: JobInPlanV2, blocking: dict[str, str]) -> None:
    add_job(g, j, blocking)
    if j.job_stream_id and j.job_stream_id not in g.nodes:  # what the member edge leads through
        g.add_node(Node(j.job_stream_id, "jobstream", j.job_stream_name or j.job_stream_id))
