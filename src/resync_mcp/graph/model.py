"""The graph: nodes for jobs, job streams, workstations, resources, prompts and files; typed
edges from what is needed to what needs it ("src must be satisfied before dst can run").

Plain data, no I/O. ``PlanGraph`` keeps adjacency both ways so walks in either direction are
cheap; a 100,000-job plan fits in memory (slots, interned strings, tuples).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

ENDED_OK = frozenset({"SUCC", "SUPPR"})
ENDED_BAD = frozenset({"ABEND", "FAIL", "CANCL"})
ENDED = ENDED_OK | ENDED_BAD
RUNNING = frozenset({"EXEC", "INTRO", "WAIT", "PEND", "SUCCP", "ABENP"})
EDGE_TYPES = (
    "INTERNAL",
    "EXTERNAL_JOB",
    "EXTERNAL_JOBSTREAM",
    "RESOURCE",
    "PROMPT",
    "FILE",
    "JOIN",
    "MEMBER",
    "RUNS_ON",
)


@dataclass(slots=True)
class Node:
    id: str
    kind: str  # job, jobstream, workstation, resource, prompt, file
    name: str
    status: str | None = None  # internal status for jobs and job streams; a state word otherwise
    stream: str | None = None  # a job's job stream id
    stream_name: str | None = None
    workstation: str | None = None
    critical: bool = False
    deadline: datetime | None = None
    duration_s: float = 0.0  # estimated duration
    start: datetime | None = None
    end: datetime | None = None
    held: bool = False  # held by an operator (not only waiting)
    blocked_reason: str | None = None  # for workstations, resources, prompts, files: why they hold jobs
    fingerprint: int = 0  # the hash of what changed detection compares (builder.fingerprint)


@dataclass(frozen=True, slots=True)
class Edge:
    src: str
    dst: str
    type: str
    satisfied: bool | None


@dataclass
class PlanGraph:
    nodes: dict[str, Node] = field(default_factory=dict)
    preds: dict[str, list[Edge]] = field(default_factory=dict)
    succs: dict[str, list[Edge]] = field(default_factory=dict)
    as_of: datetime | None = None

    def add_node(self, node: Node) -> None:
        self.nodes[node.id] = node

    def add_edge(self, edge: Edge) -> None:
        self.preds.setdefault(edge.dst, []).append(edge)
        self.succs.setdefault(edge.src, []).append(edge)

    def drop_edges_into(self, node_id: str) -> None:
        """Forget a node's incoming edges (before they are re-read for a changed job)."""
        for edge in self.preds.pop(node_id, []):
            out = self.succs.get(edge.src)
            if out:
                self.succs[edge.src] = [e for e in out if e.dst != node_id]

    def remove_node(self, node_id: str) -> None:
        self.drop_edges_into(node_id)
        for edge in self.succs.pop(node_id, []):
            into = self.preds.get(edge.dst)
            if into:
                self.preds[edge.dst] = [e for e in into if e.src != node_id]
        self.nodes.pop(node_id, None)

    def jobs(self) -> int:
        return sum(1 for n in self.nodes.values() if n.kind == "job")

    def edge_count(self) -> int:
        return sum(len(v) for v in self.preds.values())
