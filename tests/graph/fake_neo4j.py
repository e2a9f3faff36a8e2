"""A recording fake of the neo4j async driver: it records every (query, parameters) and answers
the store's own queries (named by their ``// resync:NAME`` marker) from an in-memory graph.

It proves what our side sends and how it reads the answers; it does not prove Cypher
semantics on a real server (the contract tests do that when NEO4J_URI is set).
"""

from __future__ import annotations

from typing import Any


class FakeResult:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self._rows = rows

    async def data(self) -> list[dict[str, Any]]:
        return self._rows


class FakeSession:
    def __init__(self, driver: FakeDriver) -> None:
        self.d = driver

    async def __aenter__(self) -> FakeSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def run(self, query: str, parameters: dict[str, Any]) -> FakeResult:
        self.d.calls.append((query, parameters))
        name = query.split("\n", 1)[0].removeprefix("// resync:")
        return FakeResult(getattr(self.d, "_" + name.replace("-", "_"))(parameters))


class FakeDriver:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.nodes: dict[tuple[str, str], dict[str, Any]] = {}
        self.edges: dict[tuple[str, str, str, str], bool | None] = {}  # (engine, src, dst, type) -> satisfied
        self.closed = False

    def session(self, database: str | None = None) -> FakeSession:
        return FakeSession(self)

    async def close(self) -> None:
        self.closed = True

    # -- the store's queries
    def _constraint(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        return []

    def _index(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        return []

    def _delete_batch(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        doomed = [k for k in self.nodes if k[0] == p["engine"]][: p["batch"]]
        for k in doomed:
            del self.nodes[k]
        gone = {k[1] for k in doomed}
        self.edges = {
            e: s for e, s in self.edges.items() if not (e[0] == p["engine"] and (e[1] in gone or e[2] in gone))
        }
        return [{"deleted": len(doomed)}]

    def _nodes(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        for r in p["rows"]:
            self.nodes.setdefault((p["engine"], r["id"]), {}).update(r)
        return []

    def _edges(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        for r in p["rows"]:
            if (p["engine"], r["src"]) in self.nodes and (p["engine"], r["dst"]) in self.nodes:
                self.edges[(p["engine"], r["src"], r["dst"], r["type"])] = r["satisfied"]
        return []

    def _node(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        found = self.nodes.get((p["engine"], p["id"]))
        return [{"node": dict(found)}] if found else []

    def _down(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for node_id in p["ids"]:
            for (eng, src, dst, typ), sat in self.edges.items():
                if eng == p["engine"] and src == node_id:
                    out.append({"src": src, "node": dict(self.nodes[(eng, dst)]), "type": typ, "satisfied": sat})
        return out

    def _up(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for node_id in p["ids"]:
            for (eng, src, dst, typ), sat in self.edges.items():
                if eng == p["engine"] and dst == node_id:
                    out.append({"dst": dst, "node": dict(self.nodes[(eng, src)]), "type": typ, "satisfied": sat})
        return out
