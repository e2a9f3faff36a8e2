"""Plan-wide questions never wait for the whole-plan graph: it is read in the background, and a
question asked before it is ready answers at once with how far the read is and what the engine
already says; once read, the answer is the plan-wide analysis of that graph."""

from __future__ import annotations

import pytest
from mcp import Client

from resync_mcp.app import App
from resync_mcp.graph import analysis as a
from resync_mcp.simulator import Simulator
from tests.conftest import call

pytestmark = pytest.mark.anyio


async def test_the_first_question_answers_before_the_build_and_the_next_from_it(
    app: App, mcp: Client, sim: Simulator
) -> None:
    assert app.graph is not None
    first = await call(mcp, "deadlines_at_risk", {"limit": 50})
    state = app.graph.whole.states["demo"]
    assert state.task is not None and state.graph is None  # answered while the build still runs
    assert first["ready"] is False and first["at_risk"] == [] and first["at_risk_total"] is None
    assert first["progress"].startswith("reading the whole plan in the background")
    late = await call(mcp, "find_jobs", {"late": True, "limit": 50})
    assert [j["id"] for j in first["late_now"]] == [j["id"] for j in late["jobs"]]
    assert first["late_now_total"] == late["total"]

    client = app.engines.get("demo")
    await app.graph.whole.wait(client)
    g = state.graph
    assert g is not None and g.as_of is not None
    expected = a.at_risk(g, g.as_of)
    assert expected, "the demo plan has deadlines at risk"
    ready = await call(mcp, "deadlines_at_risk", {"limit": 5})
    assert ready["ready"] is True and ready["progress"] is None and ready["late_now"] == []
    assert ready["at_risk_total"] == len(expected)
    assert [r["job"]["id"] for r in ready["at_risk"]] == [p.target for p in expected[:5]]
    assert [r["slack_s"] for r in ready["at_risk"]] == [round(p.slack_s or 0.0, 1) for p in expected[:5]]
    assert ready["note"] == f"truncated, {len(expected) - 5} more"


async def test_a_stale_graph_answers_while_it_is_refreshed(app: App, mcp: Client, sim: Simulator) -> None:
    assert app.graph is not None
    client = app.engines.get("demo")
    await app.graph.whole.wait(client)
    old = (await call(mcp, "deadlines_at_risk", {}))["as_of"]
    app.graph.invalidate("demo")  # as a write does
    during = await call(mcp, "deadlines_at_risk", {})
    assert during["ready"] is True and during["as_of"] == old
    assert during["progress"].startswith("refreshing the plan graph in the background")
    await app.graph.whole.wait(client)
    assert (await call(mcp, "deadlines_at_risk", {}))["progress"] is None


async def test_a_failed_read_is_said_and_retried(app: App, mcp: Client, sim: Simulator) -> None:
    assert app.graph is not None
    client = app.engines.get("demo")
    sim.faults.configure(error_rate=1.0, error_status=500)
    await call(mcp, "server_health", {})  # nothing cached from a healthy engine
    with pytest.raises(RuntimeError):
        await app.graph.whole.wait(client)
    sim.faults.configure(error_rate=0.0)
    retried = await call(mcp, "deadlines_at_risk", {})
    assert retried["ready"] is False and "the last read failed" in retried["note"]
    await app.graph.whole.wait(client)
    assert (await call(mcp, "deadlines_at_risk", {}))["ready"] is True


async def test_the_build_can_start_with_the_server(settings: object, clock: object, sim: Simulator) -> None:
    from resync_mcp.app import build_app
    from resync_mcp.config import load_settings

    started = build_app(
        load_settings(None, {"demo": {"enabled": True, "seed": 1, "jobs": 300}, "graph": {"build_at_start": True}}),
        simulator=sim,
    )
    await started.start()
    try:
        assert started.graph is not None
        assert started.graph.whole.states["demo"].task is not None  # reading before any question
        await started.graph.whole.wait(started.engines.get("demo"))
    finally:
        await started.aclose()
