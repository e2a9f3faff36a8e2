"""Refreshing the whole-plan graph: re-read only what changed.

Without ``since``: one light pass over every job (a full pass). With it: the jobs the engine says
moved since then, what our own writes touched, and what follows them (see ``refresh``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from resync_mcp.errors import InvalidQuery
from resync_mcp.graph.builder import BATCH, PAGE, _workstations, add_job, fingerprint, jobs_where
from resync_mcp.graph.model import Node, PlanGraph
from resync_mcp.tws.client import HwaClient
from resync_mcp.tws.models import JobInPlanV2


@dataclass
class RefreshReport:
    checked: int  # jobs whose light fingerprint was compared
    changed: int
    added: int
    removed: int
    full: bool = True  # every job compared (else: those the engine says moved, and our writes')


# The changes a running plan makes on its own since a time: jobs that started or ended, and jobs
# whose stream arrived or whose start time came (they may have become ready). The run fields
# follow the confirmed ``jobruns.compositeStatus.status``; that a real engine accepts them is
# unconfirmed, and an engine that refuses them gets the full light pass instead.
MOVED = (
    "jobruns.timeInfo.actualStartTime >= '{t}' OR jobruns.timeInfo.actualEndTime >= '{t}'"
    " OR (schedTime >= '{t}' AND schedTime <= '{now}')"
    " OR (timeRestrictions.startTime >= '{t}' AND timeRestrictions.startTime <= '{now}')"
)


async def refresh(
    client: HwaClient,
    g: PlanGraph,
    now: datetime,
    *,
    since: datetime | None = None,
    dirty: Iterable[str] = (),
) -> RefreshReport:
    """Bring ``g`` up to date, re-reading (with dependencies) only the jobs that changed.

    Without ``since``, every job's light fingerprint is compared (a full pass). With it, only the
    jobs the engine says started or ended since then are compared, plus ``dirty`` (what our own
    writes touched: jobs, or job streams whose jobs are re-read); a changed job's successors are
    re-read too, since their dependencies' state follows it. A different job count (a submit, a
    new plan), or an engine that refuses the time filter, falls back to the full pass. Holds,
    releases and priority changes made by others show only in a full pass (``full_check_s``).
    """
    blocking = await _workstations(client, g)
    known = {nid for nid, n in g.nodes.items() if n.kind == "job"}
    stale: set[str] = set()
    current: dict[str, int] | None = None
    if since is not None:
        current = await _moved(client, since, now, len(known))
    full = current is None
    if current is None:
        current = await _fingerprints(client, None)
    removed = known - set(current) if full else set()
    for nid in removed:
        g.remove_node(nid)
    stale = {jid for jid, fp in current.items() if jid not in g.nodes or g.nodes[jid].fingerprint != fp}
    added = sum(1 for jid in stale if jid not in g.nodes)
    streams = set()
    for nid in dirty:
        node = g.nodes.get(nid)
        if node is not None and node.kind == "jobstream":
            streams.add(nid)
        elif node is not None and node.kind == "job":
            stale.add(nid)
    successors = {e.dst for jid in stale if jid in g.nodes for e in g.succs.get(jid, ()) if e.dst in known}
    reread = await jobs_where(client, "id", sorted(stale | successors))
    reread += await jobs_where(client, "jobStreamId", sorted(streams))
    for j in reread:
        replace_job(g, j, blocking)
    # The streams of what changed: their state follows their jobs, and jobs that wait on a stream
    # follow it in turn.
    moved = {j.job_stream_id for j in reread if j.job_stream_id} | streams
    for sid in await _stream_states(client, g, sorted(moved)):
        waiting = [e.dst for e in g.succs.get(sid, ()) if e.type == "EXTERNAL_JOBSTREAM"]
        for j in await jobs_where(client, "id", waiting):
            replace_job(g, j, blocking)
    g.as_of = now
    return RefreshReport(len(current), len(stale & known), added, len(removed), full)


def replace_job(g: PlanGraph, j: JobInPlanV2, blocking: dict[str, str]) -> None:
    """A job read again: its node, its dependencies and its membership edge as the engine has them now."""
    g.drop_edges_into(j.id)
    for e in [e for e in g.succs.get(j.id, ()) if e.type == "MEMBER"]:
        g.succs[j.id].remove(e)
        g.preds[e.dst].remove(e)
    add_job(g, j, blocking)


async def _stream_states(client: HwaClient, g: PlanGraph, ids: list[str]) -> list[str]:
    """Re-read job streams' states; the ids of those whose state changed."""
    changed = []
    for i in range(0, len(ids), BATCH):
        quoted = ", ".join(f"'{x}'" for x in ids[i : i + BATCH])
        page = await client.query_job_streams(oql=f"id IN [{quoted}]", limit=BATCH, fresh=True)
        for s in page.results:
            status = s.composite_status.status if s.composite_status else None
            node = g.nodes.get(s.id)
            if node is None or node.status != status:
                changed.append(s.id)
            g.add_node(Node(s.id, "jobstream", s.name, status=status))
    return changed


async def _fingerprints(client: HwaClient, oql: str | None) -> dict[str, int]:
    current: dict[str, int] = {}
    offset = 0
    while True:
        page = await client.query_jobs(oql=oql, limit=PAGE, offset=offset, fresh=True, remember=False)
        for j in page.results:
            current[j.id] = hash(fingerprint(j))
        offset += len(page.results)
        if not page.results or page.next is None:
            return current


async def _moved(client: HwaClient, since: datetime, now: datetime, known: int) -> dict[str, int] | None:
    """The fingerprints of the jobs that started or ended since ``since``; None when only a full
    pass can tell (the job count changed, or the engine refuses the filter)."""
    total = (await client.query_jobs(limit=1, fresh=True, remember=False)).count
    if total != known:
        return None
    try:
        return await _fingerprints(client, MOVED.format(t=_utc(since), now=_utc(now)))
    except InvalidQuery:
        return None


def _utc(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
