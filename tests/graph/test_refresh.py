"""An incremental refresh re-reads what moved, and ends with the graph a fresh build would read;
what the engine cannot show (others' holds) waits for the periodic full pass, and an engine that
refuses the time filter gets the full pass every time."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from resync_mcp.clock import FakeClock
from resync_mcp.graph import builder, refresh
from resync_mcp.graph.model import PlanGraph
from resync_mcp.graph.store import EmbeddedGraphStore
from resync_mcp.graph.whole import WholePlan
from resync_mcp.simulator import Simulator
from resync_mcp.tws.client import HwaClient

pytestmark = pytest.mark.anyio
SKEW = timedelta(minutes=2)


def differences(a: PlanGraph, b: PlanGraph) -> list[str]:
    """Nodes whose state or incoming edges differ between two graphs."""

    def edges(g: PlanGraph, n: str) -> list[tuple[str, str, str | None]]:
        return sorted((e.src, e.type, str(e.satisfied)) for e in g.preds.get(n, ()))

    def state(g: PlanGraph, n: str) -> tuple[object, ...]:
        x = g.nodes[n]
        return (x.fingerprint, x.status, x.held, x.blocked_reason, edges(g, n))

    return sorted(a.nodes.keys() ^ b.nodes.keys()) + [
        n for n in a.nodes.keys() & b.nodes.keys() if state(a, n) != state(b, n)
    ]


def client_of(sim: Simulator) -> HwaClient:
    http = httpx.AsyncClient(transport=sim.transport(), base_url="http://sim.invalid", auth=("u", "p"))
    return HwaClient(http, engine="sim")


@pytest.mark.parametrize("minutes", [5, 30])
async def test_what_moved_is_enough_to_match_a_fresh_build(minutes: int) -> None:
    clock = FakeClock()
    sim = Simulator.create(11, 3000, clock)
    hwa = client_of(sim)
    g = await builder.build(hwa, clock.now())
    before = {j.id: j.status for j in sim.plan.jobs}
    since = clock.now() - SKEW
    clock.advance(minutes * 60)
    sim.state()
    moved = sum(1 for j in sim.plan.jobs if before[j.id] != j.status)
    assert moved > 0, "the plan moved"
    report = await refresh.refresh(hwa, g, clock.now(), since=since)
    assert not report.full and report.checked < len(sim.plan.jobs) // 5  # what moved, not the plan
    assert report.changed > 0
    assert differences(g, await builder.build(hwa, clock.now())) == []


async def test_an_engine_that_refuses_the_time_filter_gets_the_full_pass() -> None:
    clock = FakeClock()
    sim = Simulator.create(11, 1000, clock, oql_fields="confirmed")
    hwa = client_of(sim)
    g = await builder.build(hwa, clock.now())
    since = clock.now() - SKEW
    clock.advance(600)
    report = await refresh.refresh(hwa, g, clock.now(), since=since)
    assert report.full and report.checked == len(sim.plan.jobs)
    assert differences(g, await builder.build(hwa, clock.now())) == []


async def test_a_hold_by_someone_else_waits_for_the_full_pass_and_ours_does_not() -> None:
    clock = FakeClock()
    sim = Simulator.create(11, 1000, clock)
    hwa = client_of(sim)
    g = await builder.build(hwa, clock.now())
    sim.state()
    theirs, ours = [j for j in sim.plan.jobs if j.status == "HOLD" and not j.held][:2]
    for j in (theirs, ours):
        j.held = True
    sim.plan.changed()
    report = await refresh.refresh(hwa, g, clock.now(), since=clock.now() - SKEW, dirty=[ours.id])
    assert not report.full
    assert g.nodes[ours.id].held and not g.nodes[theirs.id].held  # the engine shows no time for a hold
    full = await refresh.refresh(hwa, g, clock.now())
    assert full.full and g.nodes[theirs.id].held


async def test_a_submit_changes_the_count_and_the_refresh_goes_full() -> None:
    clock = FakeClock()
    sim = Simulator.create(11, 1000, clock)
    hwa = client_of(sim)
    g = await builder.build(hwa, clock.now())
    model = sim.plan.streams[3]
    sim.actions.submit_stream(model, sim.now(), {})  # as the engine's submit route does
    report = await refresh.refresh(hwa, g, clock.now(), since=clock.now() - SKEW)
    assert report.full and report.added == len(model.jobs)
    assert differences(g, await builder.build(hwa, clock.now())) == []


async def test_the_background_refresh_compares_every_job_every_full_check() -> None:
    clock = FakeClock()
    sim = Simulator.create(11, 1000, clock)
    hwa = client_of(sim)
    whole = WholePlan(clock, EmbeddedGraphStore(), max_age_s=60, full_check_s=600)
    state = await whole.wait(hwa)
    for step, expect_full in ((120, False), (240, False), (300, True), (120, False)):
        clock.advance(step)
        state = await whole.wait(hwa)
        assert state.last is not None and state.last.full is expect_full, step
