"""Where the graph lives, behind one interface: in process (default) or in Neo4j.

Both stores answer the same questions with the same pure analyses (graph/analysis.py): the
embedded store over its in-memory graph, the Neo4j store over the subgraph it fetches with
bounded, parameterized level-by-level queries. The contract tests run against both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from resync_mcp.graph import analysis as a
from resync_mcp.graph.model import PlanGraph


class GraphStore(Protocol):
    async def start(self) -> None: ...

    async def replace(self, engine: str, g: PlanGraph) -> None: ...

    async def impact(self, engine: str, job_id: str, limit: int = 100_000) -> a.Impact: ...

    async def root_cause(self, engine: str, job_id: str) -> list[a.Cause]: ...

    async def critical_path(self, engine: str, target: str, now: datetime) -> a.CriticalPath: ...

    async def close(self) -> None: ...


class EmbeddedGraphStore:
    """The default: the analyses run directly on the in-process graph."""

    def __init__(self) -> None:
        self.graphs: dict[str, PlanGraph] = {}

    async def start(self) -> None:
        return None

    async def replace(self, engine: str, g: PlanGraph) -> None:
        self.graphs[engine] = g

    async def impact(self, engine: str, job_id: str, limit: int = 100_000) -> a.Impact:
        return a.impact(self.graphs[engine], job_id, limit=limit)

    async def root_cause(self, engine: str, job_id: str) -> list[a.Cause]:
        return a.root_cause(self.graphs[engine], job_id)

    async def critical_path(self, engine: str, target: str, now: datetime) -> a.CriticalPath:
        return a.critical_path(self.graphs[engine], target, now)

    async def close(self) -> None:
        return None
