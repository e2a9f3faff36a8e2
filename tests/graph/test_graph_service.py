"""The graph built from the simulator's plan, refreshed incrementally, and asked through MCP."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from resync_mcp.app import App
from resync_mcp.clock import FakeClock
from resync_mcp.graph import builder, refresh
from resync_mcp.simulator import Simulator
from resync_mcp.tws.client import HwaClient
from tests.conftest import call

pytestmark = pytest.mark.anyio


def successors(sim: Simulator, idx: int) -> list[Any]:
    return [j for j in sim.plan.jobs if any(d.type in ("INTERNAL", "EXTERNAL_JOB") and d.target == idx for d in j.deps)]


async def test_the_built_graph_matches_the_plan(hwa: HwaClient, sim: Simulator, clock: FakeClock) -> None:
    g = await builder.build(hwa, clock.now())
    sim.state()
    assert g.jobs() == len(sim.plan.jobs)
    job_edges = sum(1 for j in sim.plan.jobs for d in j.deps if d.type in ("INTERNAL", "EXTERNAL_JOB"))
    assert sum(1 for into in g.preds.values() for e in into if e.type in ("INTERNAL", "EXTERNAL_JOB")) == job_edges
    failed = next(j for j in sim.plan.jobs if j.status == "ABEND" and successors(sim, j.idx))
    assert {e.dst for e in g.succs[failed.id] if e.type == "INTERNAL"} >= {
        s.id for s in successors(sim, failed.idx) if s.stream == failed.stream
    }


async def test_refresh_rereads_only_the_jobs_that_changed(hwa: HwaClient, sim: Simulator, clock: FakeClock) -> None:
    g = await builder.build(hwa, clock.now())
    before = hwa.requests_made
    unchanged = await refresh.refresh(hwa, g, clock.now())
    assert (unchanged.changed, unchanged.added, unchanged.removed) == (0, 0, 0)
    assert hwa.requests_made - before <= 3  # the light pass, no job re-read
    sim.state()
    held = [j for j in sim.plan.jobs if j.status == "HOLD"][:5]
    for j in held:
        j.held = True
    sim.plan.changed()
    report = await refresh.refresh(hwa, g, clock.now())
    assert report.changed == len(held) and report.checked == len(sim.plan.jobs)
    assert all(g.nodes[j.id].held for j in held)


async def test_graph_tools_through_mcp(app: App, mcp: Client, sim: Simulator) -> None:
    sim.state()
    failed = max((j for j in sim.plan.jobs if j.status == "ABEND"), key=lambda j: len(successors(sim, j.idx)))
    impact = await call(mcp, "impact_of_failure", {"job": failed.id})
    assert impact["blocked_total"] >= len([s for s in successors(sim, failed.idx) if s.status == "HOLD"])
    assert impact["as_of"] and sum(impact["by_job_stream"].values()) <= impact["blocked_total"]
    waiting = next(s for s in successors(sim, failed.idx) if s.status == "HOLD")
    cause = await call(mcp, "root_cause", {"job": waiting.id})
    assert failed.id in {c["node"] for c in cause["causes"]}
    assert any(c["reason"] == "ended ABEND" for c in cause["causes"])
    critical = next(j for j in sim.plan.jobs if j.critical and sim.plan.deadline(j) and j.status == "HOLD")
    cp = await call(mcp, "critical_path", {"target": critical.id})
    assert cp["target"]["id"] == critical.id and cp["deadline"] and isinstance(cp["at_risk"], bool)
    assert cp["path"][-1]["id"] == critical.id
    stream = sim.plan.streams[critical.stream]
    by_stream = await call(mcp, "critical_path", {"target": stream.id})
    assert by_stream["target"]["job_stream"] == stream.name


async def test_a_control_preview_counts_the_whole_downstream(app: App, mcp: Client, sim: Simulator) -> None:
    sim.state()
    failed = max((j for j in sim.plan.jobs if j.status == "ABEND"), key=lambda j: len(successors(sim, j.idx)))
    impact = await call(mcp, "impact_of_failure", {"job": failed.id})
    preview = await call(mcp, "rerun_job", {"job": failed.id, "preview": True})
    assert preview["downstream"]["blocked_total"] == impact["blocked_total"]
    assert f"{impact['blocked_total']} job(s) downstream" in preview["downstream"]["effect"]


async def test_the_graph_refreshes_after_a_write(app: App, mcp: Client, sim: Simulator) -> None:
    sim.state()
    waiting = next(j for j in sim.plan.jobs if j.status == "HOLD" and not j.held)
    await call(mcp, "root_cause", {"job": waiting.id})  # builds the graph
    await call(mcp, "hold_job", {"job": waiting.id})
    assert app.graph is not None
    cause = await call(mcp, "root_cause", {"job": waiting.id})
    assert any(c["reason"] == "held by an operator" and c["node"] == waiting.id for c in cause["causes"])


async def test_building_the_graph_does_not_fill_the_cache_with_job_pages(app: App, sim: Simulator) -> None:
    assert app.upstream.cache is not None and app.graph is not None
    await app.graph.graph("demo")
    cached = app.upstream.cache.sizes().get("demo", {"bytes": 0})["bytes"]
    # Workstation and job-stream pages may be cached; the job pages (all 600 jobs with their
    # dependencies, several hundred kB) must not be, or a build would evict what operators read.
    job_pages = len(sim.plan.jobs) * 500
    assert cached < job_pages, cached
