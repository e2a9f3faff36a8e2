"""Dependency graph figures: build time and memory for 10,000 and 100,000 jobs (read through the
real client from the simulator, in process); on the big plan, impact_of_failure and root_cause
as a call pays them (the job's neighbourhood read through the client, then the analysis) and on
the whole graph once read; the incremental refresh after ten minutes of plan time, and a full pass.

    python bench/bench_graph.py [--sizes 10000 100000] [--calls 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import tracemalloc
from datetime import timedelta

import anyio
import httpx

from resync_mcp import logs
from resync_mcp.clock import SystemClock
from resync_mcp.collector import no_full_collections
from resync_mcp.graph import analysis as a
from resync_mcp.graph import builder, local, refresh
from resync_mcp.simulator import Simulator
from resync_mcp.tws.client import HwaClient


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * q))]


async def run(size: int, calls: int, detail: bool) -> None:
    clock = SystemClock()
    sim = Simulator.create(42, size, clock)
    http = httpx.AsyncClient(transport=sim.transport(), base_url="http://sim.invalid", auth=("u", "p"), timeout=600)
    client = HwaClient(http, engine="sim", total_timeout_s=600)
    t = time.perf_counter()
    with no_full_collections():  # as the server reads it (graph/whole.py)
        g = await builder.build(client, clock.now())
    build_s = time.perf_counter() - t
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    g2 = await builder.build(client, clock.now())
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    retained = sum(s.size_diff for s in after.compare_to(before, "filename")) / 2**20
    print(
        f"{size:>7,} jobs: build {build_s:.1f} s; graph {len(g.nodes):,} nodes, {g.edge_count():,} edges, "
        f"{retained:.0f} MiB retained"
    )
    del g2
    if not detail:
        await http.aclose()
        return
    rng = random.Random(1)
    sim.state()
    failed = [j.id for j in sim.plan.jobs if j.status in ("ABEND", "FAIL")]
    waiting = [j.id for j in sim.plan.jobs if j.status == "HOLD"]
    questions = (
        ("impact_of_failure", local.downstream, a.impact, failed),
        ("root_cause", local.upstream, a.root_cause, waiting),
    )
    for name, walker, analysis, pool in questions:
        first, warm = [], []
        for _ in range(calls):
            node = rng.choice(pool)
            t = time.perf_counter()  # what a call pays: its neighbourhood read through the client
            walk = await walker(client, node, max_nodes=5000, out_of_time=lambda: False)
            analysis(walk.graph, node)
            first.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()  # the same question once the background read has the whole graph
            analysis(g, node)
            warm.append((time.perf_counter() - t) * 1000)
        print(
            f"  {name}: reading the job's neighbourhood p50 {statistics.median(first):.1f} ms, "
            f"p95 {pct(first, 0.95):.1f} ms; on the whole graph once read p50 {statistics.median(warm):.2f} ms "
            f"(a first call paid the {build_s:.1f} s build before)"
        )
    before = g.as_of
    assert before is not None
    sim.advance(600)  # ten minutes of the plan running on its own
    sim.state()
    t = time.perf_counter()
    with no_full_collections():
        report = await refresh.refresh(client, g, clock.now(), since=before - timedelta(minutes=2))
    took = time.perf_counter() - t
    print(
        f"  refresh after ten minutes of plan time: {took:.2f} s ({took / build_s:.1%} of the build), "
        f"{report.checked:,} jobs compared, {report.changed:,} changed"
    )
    t = time.perf_counter()
    with no_full_collections():
        full = await refresh.refresh(client, g, clock.now())
    print(f"  a full pass (every job compared, as every full_check_s): {time.perf_counter() - t:.1f} s, {full}")
    await http.aclose()


async def main(sizes: list[int], calls: int) -> None:
    logs.configure("WARNING")
    for size in sizes:
        await run(size, calls, detail=size == max(sizes))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--calls", type=int, default=200)
    args = ap.parse_args()
    anyio.run(main, args.sizes, args.calls)
