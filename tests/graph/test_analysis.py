"""Impact, root cause and critical path against brute-force references on random graphs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from resync_mcp.graph import analysis as a
from resync_mcp.graph.model import ENDED, ENDED_OK, Edge, Node, PlanGraph

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
STATUSES = ["HOLD", "READY", "EXEC", "SUCC", "ABEND", "FAIL", "CANCL", "PEND", "FENCE"]


@st.composite
def dags(draw: st.DrawFn, cyclic: bool = False) -> PlanGraph:
    n = draw(st.integers(2, 10))
    g = PlanGraph()
    for i in range(n):
        status = draw(st.sampled_from(STATUSES))
        g.add_node(
            Node(
                f"j{i}",
                "job",
                f"J{i}",
                status=status,
                stream="s",
                stream_name="S",
                critical=draw(st.booleans()),
                deadline=NOW + timedelta(minutes=draw(st.integers(-60, 600))) if draw(st.booleans()) else None,
                duration_s=float(draw(st.integers(0, 3600))),
                start=NOW - timedelta(minutes=30) if status in ("EXEC", "SUCC", "ABEND") else None,
                end=NOW - timedelta(minutes=draw(st.integers(1, 20))) if status in ENDED else None,
                held=draw(st.booleans()) if status == "HOLD" else False,
                blocked_reason="workstation W is not linked"
                if status in ("READY", "FENCE") and draw(st.booleans())
                else None,
            )
        )
    for j in range(n):
        for i in range(j):
            if draw(st.booleans()):
                g.add_edge(Edge(f"j{i}", f"j{j}", "INTERNAL", draw(st.sampled_from([True, False, None]))))
    if cyclic:
        g.add_edge(Edge(f"j{n - 1}", "j0", "INTERNAL", False))
    if draw(st.booleans()):
        g.add_edge(Edge("ghost", f"j{n - 1}", "EXTERNAL_JOB", False))  # a predecessor not in the plan
    return g


def brute_impact(g: PlanGraph, root: str) -> set[str]:
    found: set[str] = set()

    def walk(cur: str, path: set[str]) -> None:
        for e in g.succs.get(cur, ()):
            node = g.nodes.get(e.dst)
            if node is None or e.dst in path or node.status in ENDED:
                continue
            found.add(e.dst)
            walk(e.dst, path | {e.dst})

    walk(root, {root})
    return found


def brute_causes(g: PlanGraph, job: str) -> set[str]:
    causes = {job} if a.holds(g.nodes[job]) else set()

    def walk(cur: str, path: set[str]) -> None:
        for e in g.preds.get(cur, ()):
            if e.satisfied is True or e.src in path:
                continue
            node = g.nodes.get(e.src)
            if node is None:
                causes.add(e.src)
                continue
            if node.status in ENDED_OK:
                continue
            if a.holds(node):
                causes.add(e.src)
            else:
                walk(e.src, path | {e.src})

    walk(job, {job})
    return causes


def brute_finish(g: PlanGraph, node_id: str) -> datetime:
    node = g.nodes[node_id]
    ready = NOW
    for e in g.preds.get(node_id, ()):
        if e.src in g.nodes:
            ready = max(ready, brute_finish(g, e.src))
    return a._remaining_finish(node, ready, NOW)


@settings(max_examples=200, deadline=None)
@given(g=dags(), data=st.data())
def test_impact_is_every_unended_job_reachable_through_unended_jobs(g: PlanGraph, data: st.DataObject) -> None:
    root = data.draw(st.sampled_from(sorted(g.nodes)))
    got = a.impact(g, root)
    assert set(got.blocked) == brute_impact(g, root)
    assert sum(got.by_stream.values()) == len(got.blocked)
    assert set(got.critical) == {j for j in got.blocked if g.nodes[j].critical}


@settings(max_examples=200, deadline=None)
@given(g=dags(), data=st.data())
def test_root_cause_finds_exactly_what_holds_the_job(g: PlanGraph, data: st.DataObject) -> None:
    job = data.draw(st.sampled_from(sorted(n for n in g.nodes if n != "ghost")))
    got = a.root_cause(g, job)
    assert {c.node for c in got} == brute_causes(g, job)
    for c in got:  # every path is a real chain of unsatisfied edges from the job
        assert c.path[0] == job and c.path[-1] == c.node


@settings(max_examples=200, deadline=None)
@given(g=dags(), data=st.data())
def test_critical_path_finish_matches_the_brute_force_longest_path(g: PlanGraph, data: st.DataObject) -> None:
    target = data.draw(st.sampled_from(sorted(g.nodes)))
    got = a.critical_path(g, target, NOW)
    assert got.finish == brute_finish(g, target)
    assert got.path[-1] == target
    for src, dst in zip(got.path, got.path[1:], strict=False):
        assert any(e.src == src for e in g.preds[dst])  # a real chain of edges
    deadline = g.nodes[target].deadline
    assert got.at_risk is (deadline is not None and got.finish > deadline)


@settings(max_examples=60, deadline=None)
@given(g=dags(cyclic=True), data=st.data())
def test_cycles_and_missing_nodes_never_hang_or_crash(g: PlanGraph, data: st.DataObject) -> None:
    node = data.draw(st.sampled_from(sorted(g.nodes)))
    a.impact(g, node)
    a.root_cause(g, node)
    cp = a.critical_path(g, node, NOW)
    assert cp.path[-1] == node


def test_a_missing_predecessor_is_named_as_a_cause() -> None:
    g = PlanGraph()
    g.add_node(Node("j", "job", "J", status="HOLD"))
    g.add_edge(Edge("other-day", "j", "EXTERNAL_JOB", False))
    [cause] = a.root_cause(g, "j")
    assert cause.kind == "missing" and "not in the plan" in cause.reason
