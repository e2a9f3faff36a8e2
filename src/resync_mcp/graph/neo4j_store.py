"""The graph in Neo4j, through the official async driver.

- On start: a uniqueness constraint on (engine, id) and an index on (engine, kind).
- Writes: batched ``UNWIND`` of parameter lists; a replace deletes the engine's old graph in
  batches first. Edges whose ends are not both in the graph are skipped by the ``MATCH``.
- Reads: level-by-level walks, one parameterized query per level and a hard level bound, so
  no variable-length pattern can explode; the fetched subgraph then goes through the same pure
  analyses as the embedded store.
- Nothing a caller types is ever concatenated into Cypher: ids, names and the engine are
  parameters; the only literals are this module's own labels.

Each query starts with a ``// resync:NAME`` marker, so logs and the test fake can name it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from resync_mcp.graph import analysis as a
from resync_mcp.graph.model import Edge, Node, PlanGraph

BATCH = 5000
MAX_LEVELS = 60

Q_CONSTRAINT = (
    "// resync:constraint\n"
    "CREATE CONSTRAINT resync_plan_node IF NOT EXISTS FOR (n:PlanNode) REQUIRE (n.engine, n.id) IS UNIQUE"
)
Q_INDEX = "// resync:index\nCREATE INDEX resync_plan_kind IF NOT EXISTS FOR (n:PlanNode) ON (n.engine, n.kind)"
Q_DELETE = (
    "// resync:delete-batch\n"
    "MATCH (n:PlanNode {engine: $engine}) WITH n LIMIT $batch DETACH DELETE n RETURN count(*) AS deleted"
)
Q_NODES = "// resync:nodes\nUNWIND $rows AS r MERGE (n:PlanNode {engine: $engine, id: r.id}) SET n += r"
Q_EDGES = (
    "// resync:edges\n"
    "UNWIND $rows AS r "
    "MATCH (a:PlanNode {engine: $engine, id: r.src}) MATCH (b:PlanNode {engine: $engine, id: r.dst}) "
    "MERGE (a)-[e:NEEDED_BY {type: r.type}]->(b) SET e.satisfied = r.satisfied"
)
Q_NODE = "// resync:node\nMATCH (n:PlanNode {engine: $engine, id: $id}) RETURN n {.*} AS node"
Q_DOWN = (
    "// resync:down\n"
    "UNWIND $ids AS id MATCH (a:PlanNode {engine: $engine, id: id})-[e:NEEDED_BY]->(b:PlanNode) "
    "RETURN a.id AS src, b {.*} AS node, e.type AS type, e.satisfied AS satisfied"
)
Q_UP = (
    "// resync:up\n"
    "UNWIND $ids AS id MATCH (a:PlanNode)-[e:NEEDED_BY]->(b:PlanNode {engine: $engine, id: id}) "
    "RETURN b.id AS dst, a {.*} AS node, e.type AS type, e.satisfied AS satisfied"
)
_TIMES = ("deadline", "start", "end")


def node_props(n: Node) -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": n.id,
        "kind": n.kind,
        "name": n.name,
        "status": n.status,
        "stream": n.stream,
        "stream_name": n.stream_name,
        "workstation": n.workstation,
        "critical": n.critical,
        "duration_s": n.duration_s,
        "held": n.held,
        "blocked_reason": n.blocked_reason,
        "fingerprint": n.fingerprint,
    }
    for name in _TIMES:
        value = getattr(n, name)
        props[name] = value.isoformat() if value is not None else None
    return props


def node_from(props: dict[str, Any]) -> Node:
    times = {k: datetime.fromisoformat(props[k]) if props.get(k) else None for k in _TIMES}
    return Node(
        id=str(props["id"]),
        kind=str(props.get("kind") or "job"),
        name=str(props.get("name") or props["id"]),
        status=props.get("status"),
        stream=props.get("stream"),
        stream_name=props.get("stream_name"),
        workstation=props.get("workstation"),
        critical=bool(props.get("critical")),
        duration_s=float(props.get("duration_s") or 0.0),
        held=bool(props.get("held")),
        blocked_reason=props.get("blocked_reason"),
        fingerprint=int(props.get("fingerprint") or 0),
        **times,
    )


def _batches(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


class Neo4jGraphStore:
    def __init__(self, driver: Any, database: str | None = None) -> None:
        self._driver = driver
        self._database = database

    @classmethod
    def connect(cls, uri: str, user: str | None, password: str | None, database: str | None) -> Neo4jGraphStore:
        """Raises ImportError when the neo4j driver (the graph extra) is not installed."""
        from neo4j import AsyncGraphDatabase

        auth = (user, password or "") if user else None
        return cls(AsyncGraphDatabase.driver(uri, auth=auth), database)

    async def _run(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        async with self._driver.session(database=self._database) as session:
            result = await session.run(query, params)
            rows: list[dict[str, Any]] = await result.data()
            return rows

    async def start(self) -> None:
        await self._run(Q_CONSTRAINT, {})
        await self._run(Q_INDEX, {})

    async def replace(self, engine: str, g: PlanGraph) -> None:
        while True:
            rows = await self._run(Q_DELETE, {"engine": engine, "batch": BATCH})
            if not rows or not rows[0].get("deleted"):
                break
        nodes = [node_props(n) | {"engine": engine} for n in g.nodes.values()]
        for batch in _batches(nodes):
            await self._run(Q_NODES, {"engine": engine, "rows": batch})
        edges = [
            {"src": e.src, "dst": e.dst, "type": e.type, "satisfied": e.satisfied}
            for into in g.preds.values()
            for e in into
        ]
        for batch in _batches(edges):
            await self._run(Q_EDGES, {"engine": engine, "rows": batch})

    async def _subgraph(self, engine: str, start: str, direction: str) -> PlanGraph:
        """The part of the graph reachable from ``start`` in one direction, level by level."""
        g = PlanGraph()
        rows = await self._run(Q_NODE, {"engine": engine, "id": start})
        if not rows:
            return g
        g.add_node(node_from(rows[0]["node"]))
        frontier = [start]
        for _ in range(MAX_LEVELS):
            if not frontier:
                break
            query = Q_DOWN if direction == "down" else Q_UP
            found = await self._run(query, {"engine": engine, "ids": frontier})
            nxt: list[str] = []
            for r in found:
                node = node_from(r["node"])
                if node.id not in g.nodes:
                    g.add_node(node)
                    nxt.append(node.id)
                src, dst = (r["src"], node.id) if direction == "down" else (node.id, r["dst"])
                g.add_edge(Edge(src, dst, str(r["type"]), r["satisfied"]))
            frontier = nxt
        return g

    async def impact(self, engine: str, job_id: str, limit: int = 100_000) -> a.Impact:
        return a.impact(await self._subgraph(engine, job_id, "down"), job_id, limit=limit)

    async def root_cause(self, engine: str, job_id: str) -> list[a.Cause]:
        return a.root_cause(await self._subgraph(engine, job_id, "up"), job_id)

    async def critical_path(self, engine: str, target: str, now: datetime) -> a.CriticalPath:
        return a.critical_path(await self._subgraph(engine, target, "up"), target, now)

    async def close(self) -> None:
        await self._driver.close()
