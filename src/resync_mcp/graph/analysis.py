"""Impact, root cause and critical path: pure functions over a PlanGraph.

- Impact walks downstream from a job through every edge: what cannot run (or complete) until
  the job succeeds; ended jobs stay out, they no longer wait on anything.
- Root cause walks upstream through *unsatisfied* edges only, and stops at what actually holds
  the job: a failed, cancelled or held predecessor, an unanswered prompt, a short resource, a
  missing file, a workstation that blocks. Predecessors that merely wait are walked through.
- Critical path computes earliest finish times over unfinished predecessors (ended jobs finish
  at their actual end; running jobs at start + estimate, or now when already over it), finds the
  predecessor chain that drives the target's finish, and compares it with the deadline.
Every walk is bounded and tolerates cycles and edges to nodes that are not in the graph.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from resync_mcp.graph.model import ENDED, ENDED_BAD, ENDED_OK, RUNNING, Edge, Node, PlanGraph


@dataclass
class Impact:
    root: str
    blocked: list[str]  # job ids downstream that have not ended, nearest first
    by_stream: dict[str, int]
    critical: list[str]
    deadlines: list[tuple[str, datetime]]  # affected jobs with a deadline, earliest first
    truncated: bool


def impact(g: PlanGraph, job_id: str, *, limit: int = 100_000) -> Impact:
    seen = {job_id}
    queue = deque([job_id])
    blocked: list[str] = []
    truncated = False
    while queue:
        cur = queue.popleft()
        for edge in g.succs.get(cur, ()):
            nxt = edge.dst
            if nxt in seen:
                continue
            seen.add(nxt)
            node = g.nodes.get(nxt)
            if node is None:
                continue
            if node.kind == "job" and node.status in ENDED:
                continue  # already ran: not blocked, and what follows it is not blocked through it
            if node.kind == "job":
                if len(blocked) >= limit:
                    truncated = True
                    break
                blocked.append(nxt)
            queue.append(nxt)
    by_stream: dict[str, int] = {}
    critical: list[str] = []
    deadlines: list[tuple[str, datetime]] = []
    for jid in blocked:
        n = g.nodes[jid]
        key = n.stream_name or n.stream or "?"
        by_stream[key] = by_stream.get(key, 0) + 1
        if n.critical:
            critical.append(jid)
        if n.deadline is not None:
            deadlines.append((jid, n.deadline))
    deadlines.sort(key=lambda x: x[1])
    return Impact(job_id, blocked, by_stream, critical, deadlines, truncated)


@dataclass
class Cause:
    node: str
    kind: str
    reason: str
    path: list[str]  # from the job up to the cause


def holds(node: Node) -> str | None:
    """Why this node, by itself, holds what depends on it; None when it merely waits or is fine."""
    if node.kind == "job":
        if node.status in ENDED_BAD:
            return f"ended {node.status}"
        if node.held:
            return "held by an operator"
        if node.status == "PEND":
            return "waiting for a person to confirm it"
        if node.status in ("READY", "FENCE") and node.blocked_reason:
            return node.blocked_reason
        return None
    if node.kind == "jobstream":
        # A stuck stream is held by one of its jobs: walk on to find it. A cancelled one holds.
        return "job stream cancelled" if node.status == "CANCL" else None
    return node.blocked_reason


def walks_through(node: Node) -> bool:
    """Whether the root-cause walk goes on past ``node``: a job or job stream that merely waits
    (holds nothing itself, has not ended well)."""
    if node.kind == "job" and node.status in ENDED_OK:
        return False
    return node.kind in ("job", "jobstream") and holds(node) is None


def walk_up(
    g: PlanGraph, job_id: str, *, max_nodes: int = 5_000, expand: Callable[[str], bool] = lambda _: True
) -> Iterator[tuple[Edge, Node | None, list[str]]]:
    """The root-cause walk: breadth first from ``job_id`` through unsatisfied dependencies only,
    each predecessor met once, on past what merely waits (where ``expand`` allows). Yields each
    predecessor met: its edge, its node (None: not in the graph) and the path from the job."""
    seen = {job_id}
    queue: deque[tuple[str, list[str]]] = deque([(job_id, [job_id])])
    while queue and len(seen) < max_nodes:
        cur, path = queue.popleft()
        for edge in g.preds.get(cur, ()):
            if edge.satisfied is True or edge.src in seen:
                continue
            seen.add(edge.src)
            node = g.nodes.get(edge.src)
            here = [*path, edge.src]
            yield edge, node, here
            if node is not None and walks_through(node) and expand(edge.src):
                queue.append((edge.src, here))  # it waits too: look further up


def root_cause(g: PlanGraph, job_id: str, *, max_nodes: int = 5_000) -> list[Cause]:
    """What actually holds ``job_id``, with the path to each cause (nearest first)."""
    start = g.nodes.get(job_id)
    if start is None:
        return []
    causes: list[Cause] = []
    own = holds(start)
    if own:
        causes.append(Cause(job_id, start.kind, own, [job_id]))
    for edge, node, path in walk_up(g, job_id, max_nodes=max_nodes):
        if node is None:
            causes.append(Cause(edge.src, "missing", f"{edge.type} predecessor not in the plan", path))
        elif not (node.kind == "job" and node.status in ENDED_OK):  # ended well: satisfied in fact
            reason = holds(node)
            if reason is not None:
                causes.append(Cause(edge.src, node.kind, reason, path))
    return causes


@dataclass
class CriticalPath:
    target: str
    finish: datetime  # earliest expected finish of the target
    deadline: datetime | None
    slack_s: float | None  # deadline - finish; negative = late
    at_risk: bool
    path: list[str]  # from the driving predecessor to the target
    cycle: list[str] = field(default_factory=list)


def _remaining_finish(node: Node, ready: datetime, now: datetime) -> datetime:
    if node.status in ENDED:
        return node.end or ready
    if node.status in RUNNING and node.start is not None:
        return max(now, node.start + timedelta(seconds=node.duration_s))
    return max(now, ready) + timedelta(seconds=node.duration_s)


class Finishes:
    """Earliest expected finish of jobs, memoized across targets: one target costs its
    predecessors, every job of a plan costs the plan once (``at_risk``)."""

    def __init__(self, g: PlanGraph, now: datetime, *, max_nodes: int = 200_000) -> None:
        self.g, self.now, self.max_nodes = g, now, max_nodes
        self.finish: dict[str, datetime] = {}  # done: a job's expected finish
        self.via: dict[str, str | None] = {}
        self.on_stack: set[str] = set()
        self.cycle: list[str] = []

    def run(self, target: str) -> datetime:
        g, finish, on_stack = self.g, self.finish, self.on_stack
        stack: list[tuple[str, int]] = [(target, 0)]
        while stack:
            cur, i = stack.pop()
            preds = [e.src for e in g.preds.get(cur, ()) if e.src in g.nodes and g.nodes[e.src].kind == "job"]
            if i == 0:
                if cur in finish:
                    continue
                on_stack.add(cur)
                if len(finish) + len(on_stack) > self.max_nodes:
                    raise ValueError("critical path walk exceeded its bound")
            if i < len(preds):
                stack.append((cur, i + 1))
                p = preds[i]
                if p in on_stack:
                    if not self.cycle:
                        self.cycle = [p, cur]
                    continue
                if p not in finish:
                    stack.append((p, 0))
                continue
            ready = self.now
            driver: str | None = None
            for p in preds:
                if p in finish and finish[p] > ready:
                    ready, driver = finish[p], p
            finish[cur] = _remaining_finish(g.nodes[cur], ready, self.now)
            self.via[cur] = driver
            on_stack.discard(cur)
        return finish[target]

    def path(self, target: str, *, risk_margin_s: float = 0.0) -> CriticalPath:
        end = self.run(target)
        path = [target]
        while (nxt := self.via.get(path[-1])) is not None:
            path.append(nxt)
        path.reverse()
        deadline = self.g.nodes[target].deadline
        slack = (deadline - end).total_seconds() if deadline is not None else None
        at_risk = slack is not None and slack < risk_margin_s
        return CriticalPath(target, end, deadline, slack, at_risk, path, list(self.cycle))


def critical_path(
    g: PlanGraph, target: str, now: datetime, *, risk_margin_s: float = 0.0, max_nodes: int = 200_000
) -> CriticalPath:
    """Longest path (by expected finish) into ``target`` over job-to-job edges.

    Raises:
        KeyError: ``target`` is not a job in the graph.
    """
    if target not in g.nodes:
        raise KeyError(target)
    return Finishes(g, now, max_nodes=max_nodes).path(target, risk_margin_s=risk_margin_s)


def at_risk(g: PlanGraph, now: datetime, *, risk_margin_s: float = 0.0) -> list[CriticalPath]:
    """Every job of the plan that has a deadline and has not ended, whose expected finish is
    later than its deadline (less ``risk_margin_s``): least slack first. One pass over the plan."""
    f = Finishes(g, now, max_nodes=len(g.nodes) + 1)
    found = [
        f.path(n.id, risk_margin_s=risk_margin_s)
        for n in g.nodes.values()
        if n.kind == "job" and n.deadline is not None and n.status not in ENDED
    ]
    return sorted((p for p in found if p.at_risk), key=lambda p: (p.slack_s or 0.0, p.target))
