"""Dependency graph figures: build time and memory for 10,000 and 100,000 jobs (read through the
real client from the simulator, in process), impact_of_failure and root_cause p95 on the big
plan, and the incremental refresh after 1 % of the jobs change.

    python bench/bench_graph.py [--sizes 10000 100000] [--calls 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import tracemalloc

import anyio
import httpx

from resync_mcp import logs
from resync_mcp.clock import SystemClock
from resync_mcp.graph import analysis as a
from resync_mcp.graph import builder
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
    for name, fn, pool in (("impact_of_failure", a.impact, failed), ("root_cause", a.root_cause, waiting)):
        lat = []
        for _ in range(calls):
            node = rng.choice(pool)
            t = time.perf_counter()
            fn(g, node)
            lat.append((time.perf_counter() - t) * 1000)
        print(f"  {name} on {len(pool):,} candidates: p50 {statistics.median(lat):.2f} ms, p95 {pct(lat, 0.95):.2f} ms")
    changed = rng.sample(waiting, len(sim.plan.jobs) // 100)
    for jid in changed:
        sim.plan.by_id[jid].held = True
    sim.plan.changed()
    t = time.perf_counter()
    report = await builder.refresh(client, g, clock.now())
    print(
        f"  refresh after {len(changed):,} jobs changed (1 %): {time.perf_counter() - t:.1f} s, "
        f"{report.changed:,} re-read of {report.checked:,} checked (full build {build_s:.1f} s)"
    )
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
