"""Impact, root cause and critical path read from the neighbourhood of a job are what the
whole-plan graph gives, for every kind of job, on a simulated plan (same plan time: the same
snapshot); and a walk reads only a small part of the plan."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import httpx
import pytest

from resync_mcp.clock import FakeClock
from resync_mcp.graph import analysis as a
from resync_mcp.graph import builder, local
from resync_mcp.graph.model import PlanGraph
from resync_mcp.simulator import Simulator
from resync_mcp.tws.client import HwaClient

pytestmark = pytest.mark.anyio
ALL = 100_000  # no cut: the walk reads all it needs


@asynccontextmanager
async def plan(seed: int) -> AsyncIterator[tuple[Simulator, HwaClient, PlanGraph]]:
    """A simulated plan, a client of it, and its whole-plan graph, all at one plan time."""
    clock = FakeClock()
    sim = Simulator.create(seed, 3000, clock)
    async with httpx.AsyncClient(transport=sim.transport(), base_url="http://sim.invalid", auth=("u", "p")) as http:
        client = HwaClient(http, engine="sim")
        whole = await builder.build(client, clock.now())
        sim.state()
        yield sim, client, whole


def never() -> bool:
    return False


def small(sim: Simulator, sizes: list[int]) -> bool:
    """A typical walk (the median) reads under 5 % of the plan."""
    return sorted(sizes)[len(sizes) // 2] < len(sim.plan.jobs) // 20


async def test_the_local_impact_is_the_whole_graphs() -> None:
    async with plan(17) as (sim, client, whole):
        failed = [j.id for j in sim.plan.jobs if j.status in ("ABEND", "FAIL")]
        assert failed, "the plan has failed jobs to ask about"
        sizes = []
        for job_id in failed[:20] + random.Random(3).sample([j.id for j in sim.plan.jobs], 40):
            walk = await local.downstream(client, job_id, max_nodes=ALL, out_of_time=never)
            expected, got = a.impact(whole, job_id), a.impact(walk.graph, job_id)
            assert walk.cut is None and got.blocked == expected.blocked, job_id
            assert (got.by_stream, got.critical, got.deadlines) == (
                expected.by_stream,
                expected.critical,
                expected.deadlines,
            )
            sizes.append(walk.graph.jobs())
        assert small(sim, sizes)


async def test_the_local_root_cause_is_the_whole_graphs() -> None:
    async with plan(23) as (sim, client, whole):
        rng = random.Random(5)
        waiting = [j.id for j in sim.plan.jobs if j.status in ("HOLD", "READY", "FENCE")]
        sizes = []
        for job_id in rng.sample(waiting, 60) + rng.sample([j.id for j in sim.plan.jobs], 20):
            walk = await local.upstream(client, job_id, max_nodes=ALL, out_of_time=never)
            expected, got = a.root_cause(whole, job_id), a.root_cause(walk.graph, job_id)
            assert walk.cut is None
            assert [(c.node, c.kind, c.reason, c.path) for c in got] == [
                (c.node, c.kind, c.reason, c.path) for c in expected
            ], job_id
            sizes.append(walk.graph.jobs())
        assert small(sim, sizes)


async def test_the_local_critical_path_is_the_whole_graphs() -> None:
    async with plan(29) as (sim, client, whole):
        rng, now = random.Random(9), whole.as_of
        assert now is not None
        deadlines = [j.id for j in sim.plan.jobs if j.critical or j.deadline_slack_s is not None]
        sizes = []
        for job_id in rng.sample(deadlines, 30) + rng.sample([j.id for j in sim.plan.jobs], 30):
            walk = await local.ancestors(client, job_id, max_nodes=ALL, out_of_time=never)
            expected, got = a.critical_path(whole, job_id, now), a.critical_path(walk.graph, job_id, now)
            assert walk.cut is None
            assert (got.finish, got.deadline, got.slack_s, got.path, got.cycle) == (
                expected.finish,
                expected.deadline,
                expected.slack_s,
                expected.path,
                expected.cycle,
            ), job_id
            sizes.append(walk.graph.jobs())
        assert small(sim, sizes)


async def test_a_job_streams_critical_path_reads_its_jobs_and_their_predecessors_only() -> None:
    async with plan(31) as (sim, client, whole):
        now = whole.as_of
        assert now is not None
        streams = random.Random(4).sample([s.id for s in sim.plan.streams], 25)
        sizes = []
        for sid in streams:
            walk = await local.stream_ancestors(client, sid, max_nodes=ALL, out_of_time=never)
            members = [e.src for e in whole.preds.get(sid, ()) if e.type == "MEMBER"]
            assert sorted(e.src for e in walk.graph.preds.get(sid, ()) if e.type == "MEMBER") == sorted(members)
            assert walk.graph.nodes[sid].status == whole.nodes[sid].status
            for m in members:
                expected, got = a.critical_path(whole, m, now), a.critical_path(walk.graph, m, now)
                assert (got.finish, got.slack_s, got.path) == (expected.finish, expected.slack_s, expected.path), m
            sizes.append(walk.graph.jobs())
        assert small(sim, sizes)


async def test_every_deadline_at_risk_is_what_each_jobs_critical_path_says() -> None:
    """The plan-wide pass shares finish times across jobs; it must agree with one job at a time."""
    async with plan(37) as (_, __, g):
        now = g.as_of
        assert now is not None
        check_at_risk(g, now)


def check_at_risk(g: PlanGraph, now: datetime) -> None:
    found = a.at_risk(g, now)
    one_by_one = [
        p
        for n in g.nodes.values()
        if n.kind == "job" and n.deadline is not None and n.status not in a.ENDED
        for p in [a.critical_path(g, n.id, now)]
        if p.at_risk
    ]
    assert found, "the plan has jobs at risk to compare"
    assert {(p.target, p.finish, p.slack_s, tuple(p.path)) for p in found} == {
        (p.target, p.finish, p.slack_s, tuple(p.path)) for p in one_by_one
    }
    assert [p.slack_s for p in found] == sorted(p.slack_s or 0.0 for p in found)


async def test_a_walk_that_would_grow_too_large_stops_and_says_so() -> None:
    async with plan(17) as (sim, client, whole):
        root = max((j.id for j in sim.plan.jobs[:300]), key=lambda j: len(a.impact(whole, j).blocked))
        walk = await local.downstream(client, root, max_nodes=5, out_of_time=lambda: False)
        assert walk.cut == "stopped at 5 jobs" and walk.graph.jobs() <= 5
        spent = await local.downstream(client, root, max_nodes=100, out_of_time=lambda: True)
        assert spent.cut == "the time budget was spent"
