"""One contract for every graph store: embedded, Neo4j through the recording fake, and a real
Neo4j server when NEO4J_URI is set (skipped otherwise, saying so)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from resync_mcp.graph import analysis as a
from resync_mcp.graph.model import Edge, Node, PlanGraph
from resync_mcp.graph.neo4j_store import MAX_LEVELS, Neo4jGraphStore
from resync_mcp.graph.store import EmbeddedGraphStore, GraphStore
from tests.graph.fake_neo4j import FakeDriver

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
HOSTILE = "X'}) DETACH DELETE n //"


def plan() -> PlanGraph:
    """A failed load holds a chain and a job stream; a prompt and a fence hold other jobs."""
    g = PlanGraph()
    for node in [
        Node("load", "job", "LOAD", status="ABEND", stream="s1", stream_name="S1", end=NOW - timedelta(minutes=5)),
        Node("calc", "job", "CALC", status="HOLD", stream="s1", stream_name="S1", duration_s=600),
        Node(
            "post",
            "job",
            "POST",
            status="HOLD",
            stream="s1",
            stream_name="S1",
            duration_s=300,
            critical=True,
            deadline=NOW + timedelta(minutes=10),
        ),
        Node("s1", "jobstream", "S1", status="STUCK"),
        Node("rpt", "job", "RPT", status="HOLD", stream="s2", stream_name="S2", duration_s=60),
        Node("done", "job", "DONE", status="SUCC", stream="s2", stream_name="S2"),
        Node("prompt:P1", "prompt", "P1", blocked_reason="prompt P1 not answered yes"),
        Node("wait", "job", HOSTILE, status="HOLD", stream="s3", stream_name="S3"),
        Node(
            "fenced",
            "job",
            "FENCED",
            status="FENCE",
            stream="s3",
            stream_name="S3",
            blocked_reason="priority 10 is not above the fence of /AGT1",
        ),
        Node("after", "job", "AFTER", status="HOLD", stream="s3", stream_name="S3"),
    ]:
        g.add_node(node)
    for e in [
        Edge("load", "calc", "INTERNAL", False),
        Edge("calc", "post", "INTERNAL", False),
        Edge("load", "s1", "MEMBER", None),
        Edge("calc", "s1", "MEMBER", None),
        Edge("post", "s1", "MEMBER", None),
        Edge("s1", "rpt", "EXTERNAL_JOBSTREAM", False),
        Edge("done", "rpt", "INTERNAL", True),
        Edge("prompt:P1", "wait", "PROMPT", False),
        Edge("fenced", "after", "INTERNAL", False),
    ]:
        g.add_edge(e)
    return g


@pytest.fixture(params=["embedded", "neo4j-fake", "neo4j-real"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[tuple[GraphStore, Any]]:
    if request.param == "embedded":
        s: GraphStore = EmbeddedGraphStore()
        driver = None
    elif request.param == "neo4j-fake":
        driver = FakeDriver()
        s = Neo4jGraphStore(driver)
    else:
        uri = os.environ.get("NEO4J_URI")
        if not uri:
            pytest.skip(
                "no Neo4j server here: set NEO4J_URI (and NEO4J_USER, NEO4J_PASSWORD) to run the contract on one"
            )
        s = Neo4jGraphStore.connect(uri, os.environ.get("NEO4J_USER"), os.environ.get("NEO4J_PASSWORD"), None)
        driver = None
    await s.start()
    await s.replace("test", plan())
    yield s, driver
    await s.close()


async def test_impact_contract(store: tuple[GraphStore, Any]) -> None:
    s, _ = store
    got = await s.impact("test", "load")
    assert set(got.blocked) == {"calc", "post", "rpt"}  # through the stuck job stream too; DONE has ended
    assert got.by_stream == {"S1": 2, "S2": 1} and got.critical == ["post"]
    assert [j for j, _ in got.deadlines] == ["post"]


async def test_root_cause_contract(store: tuple[GraphStore, Any]) -> None:
    s, _ = store
    causes = {c.node: c for c in await s.root_cause("test", "rpt")}
    assert set(causes) == {"load"} and causes["load"].path == ["rpt", "s1", "load"]
    assert {c.node for c in await s.root_cause("test", "post")} == {"load"}
    [prompt] = await s.root_cause("test", "wait")
    assert prompt.kind == "prompt" and "not answered" in prompt.reason
    [fence] = await s.root_cause("test", "after")
    assert fence.node == "fenced" and "fence" in fence.reason


async def test_critical_path_contract(store: tuple[GraphStore, Any]) -> None:
    s, _ = store
    cp = await s.critical_path("test", "post", NOW)
    assert cp.path == ["calc", "post"] and cp.finish == NOW + timedelta(seconds=900)
    assert cp.at_risk and cp.slack_s == -300


async def test_replace_drops_the_old_graph(store: tuple[GraphStore, Any]) -> None:
    s, _ = store
    g = PlanGraph()
    g.add_node(Node("only", "job", "ONLY", status="ABEND"))
    await s.replace("test", g)
    assert (await s.impact("test", "only")).blocked == []
    assert a.impact(g, "only").blocked == []


async def test_neo4j_queries_are_parameterized_batched_and_bounded() -> None:
    driver = FakeDriver()
    s = Neo4jGraphStore(driver)
    await s.start()
    big = plan()
    for i in range(12_000):  # more than one write batch
        big.add_node(Node(f"n{i}", "job", f"N{i}", status="HOLD"))
    await s.replace("prod", big)
    await s.impact("prod", "load")
    names = [q.split("\n", 1)[0] for q, _ in driver.calls]
    assert names[:2] == ["// resync:constraint", "// resync:index"]
    assert names.count("// resync:nodes") == 3  # 12,010 nodes in batches of 5,000
    for query, _ in driver.calls:
        assert HOSTILE not in query and "'" not in query.replace("{engine: $engine", "")  # no data in Cypher text
        assert "*" not in query.split("RETURN")[0] or "{.*}" in query  # no variable-length pattern
    rows = next(p["rows"] for q, p in driver.calls if q.startswith("// resync:nodes"))
    assert any(r["name"] == HOSTILE for r in rows)  # the hostile name travels as a parameter
    assert MAX_LEVELS >= 10


async def test_a_deep_chain_is_walked_level_by_level_within_the_bound() -> None:
    g = PlanGraph()
    for i in range(MAX_LEVELS + 20):
        g.add_node(Node(f"c{i}", "job", f"C{i}", status="HOLD"))
        if i:
            g.add_edge(Edge(f"c{i - 1}", f"c{i}", "INTERNAL", False))
    driver = FakeDriver()
    s = Neo4jGraphStore(driver)
    await s.replace("deep", g)
    got = await s.impact("deep", "c0")
    assert len(got.blocked) == MAX_LEVELS  # bounded, never unbounded
    assert sum(1 for q, _ in driver.calls if q.startswith("// resync:down")) == MAX_LEVELS
