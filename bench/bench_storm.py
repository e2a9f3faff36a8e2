"""An incident storm: many sessions asking about the same failing jobs, against a slow engine.

Twenty in-memory client sessions make 2,000 tool calls between them, mostly about a handful of
failed jobs (the usual 3 a.m. picture), against the simulator with 20 ms added upstream latency.
The same workload runs with the cache on and off, in the same run. Then the engine goes down
(every request 503) and the calls made while the breaker is open are timed. Last, a cached
``get_job`` is timed against a bare SDK tool whose async ``get_job`` returns the same payload
(bench_tools.py's baseline).

    python bench/bench_storm.py [--sessions 20] [--calls 2000] [--latency-ms 20] [--jobs 2000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp import Client, types

from bench_tools import bare_server
from resync_mcp import logs
from resync_mcp.app import App, build_app
from resync_mcp.clock import SystemClock
from resync_mcp.config import load_settings
from resync_mcp.services.views import JobDetail
from resync_mcp.simulator import Simulator
from resync_mcp.simulator.faults import FaultConfig, Faults

HIT_KINDS = ("hit", "l2_hit", "negative_hit", "stale", "stale_if_error", "joined")
Call = tuple[str, dict[str, Any]]


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[max(0, int(len(s) * q) - 1)]


def workload(sim: Simulator, n: int, seed: int) -> list[Call]:
    """What people ask during an incident: mostly the same few failed jobs, some wider questions."""
    sim.state()
    failed = [j for j in sim.plan.jobs if j.status in ("ABEND", "FAIL")][:5]
    if not failed:
        raise SystemExit("the simulated plan has no failed job; pick another seed")
    others = [j.id for j in sim.plan.jobs]
    rng = random.Random(seed)
    calls: list[Call] = []
    for _ in range(n):
        job = rng.choice(failed).id
        r = rng.random()
        if r < 0.35:
            calls.append(("get_job", {"job": job}))
        elif r < 0.55:
            calls.append(("get_job_log", {"job": job}))
        elif r < 0.70:
            calls.append(("job_dependencies", {"job": job, "direction": "successors"}))
        elif r < 0.85:
            calls.append(("find_jobs", {"status": ["ERROR"]}))
        elif r < 0.95:
            calls.append(("plan_summary", {}))
        else:
            calls.append(("get_job", {"job": rng.choice(others)}))  # the odd unrelated question
    return calls


def make_app(jobs: int, latency_ms: float, cache: bool) -> App:
    settings = load_settings(
        None,
        {
            "log_level": "WARNING",
            "demo": {"enabled": True, "jobs": jobs, "seed": 42},
            "cache": {"enabled": cache},
            "resilience": {"bulkhead_limit": 64, "bulkhead_queue": 1000, "breaker_threshold": 5},
        },
    )
    clock = SystemClock()
    sim = Simulator.create(42, jobs, clock, faults=Faults(FaultConfig(latency_ms=latency_ms)))
    return build_app(settings, clock=clock, simulator=sim)


async def storm(app: App, calls: list[Call], sessions: int) -> tuple[list[float], int]:
    """Run ``calls`` over ``sessions`` concurrent sessions; return per-call latencies and errors."""
    latencies: list[float] = []
    errors = 0
    share = [calls[i::sessions] for i in range(sessions)]

    async def session(mine: list[Call]) -> None:
        nonlocal errors
        async with Client(app.server) as client:
            for tool, args in mine:
                # The raw request, without the Python client's jsonschema re-validation of each
                # result (three quarters of the CPU here otherwise): the server is what is measured.
                request = types.CallToolRequest(params=types.CallToolRequestParams(name=tool, arguments=args))
                t = time.perf_counter()
                result = await client.session.send_request(request, types.CallToolResult)
                latencies.append((time.perf_counter() - t) * 1000)
                errors += result.is_error

    async with anyio.create_task_group() as tg:
        for mine in share:
            tg.start_soon(session, mine)
    return latencies, errors


async def timed(n: int, fn: Callable[[], Awaitable[Any]]) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


async def main(sessions: int, n_calls: int, latency_ms: float, jobs: int) -> None:
    logs.configure("WARNING")  # a log line per call to a terminal would measure the terminal
    rows = []
    for cache in (True, False):
        app = make_app(jobs, latency_ms, cache)
        await app.start()
        calls = workload(app.simulators["demo"], n_calls, seed=1)
        started = time.perf_counter()
        lat, errors = await storm(app, calls, sessions)
        wall = time.perf_counter() - started
        upstream = app.engines.get("demo").requests_made
        counts: Counter[str] = Counter()
        if app.upstream.cache is not None:
            for c in app.upstream.cache.stats.values():
                counts.update(c)
        hits = sum(counts[k] for k in HIT_KINDS)
        lookups = hits + counts["miss"]
        rows.append((cache, len(lat), errors, upstream, hits / lookups if lookups else 0.0, lat, wall))
        await app.aclose()

    print(f"incident storm: {sessions} sessions, {n_calls} tool calls, {latency_ms:g} ms upstream latency, {jobs} jobs")
    print(
        f"{'cache':<7}{'calls':>7}{'errors':>8}{'upstream':>10}{'upstream/call':>15}{'hit rate':>10}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'wall s':>8}"
    )
    for cache, n, errors, upstream, rate, lat, wall in rows:
        hit = f"{rate * 100:.1f}%" if cache else "-"
        print(
            f"{'on' if cache else 'off':<7}{n:>7}{errors:>8}{upstream:>10}{upstream / n:>15.3f}"
            f"{hit:>10}{pct(lat, 0.5):>9.2f}{pct(lat, 0.95):>9.2f}{wall:>8.2f}"
        )

    # --- the engine goes down: trip the breaker, then time calls while it is open
    app = make_app(jobs, latency_ms, cache=False)
    sim = app.simulators["demo"]
    sim.state()
    ids = [j.id for j in sim.plan.jobs]
    assert isinstance(sim.faults, Faults)
    sim.faults.configure(error_rate=1.0, error_status=503, latency_ms=latency_ms)
    async with Client(app.server) as client:
        tripped = 0
        while app.upstream.breaker.state("demo").mode != "open":
            await client.call_tool("get_job", {"job": ids[tripped]})
            tripped += 1
        before = app.engines.get("demo").requests_made
        i = iter(ids[tripped:])
        open_lat = await timed(200, lambda: client.call_tool("get_job", {"job": next(i)}))
        reached = app.engines.get("demo").requests_made - before
        probe = await client.call_tool("get_job", {"job": ids[-1]})
    await app.aclose()
    print(
        f"engine down: breaker open after {tripped} calls; 200 calls while open: "
        f"p50 {pct(open_lat, 0.5):.2f} ms, p95 {pct(open_lat, 0.95):.2f} ms, {reached} reached the engine"
    )
    print(f"  what the caller reads: {probe.content[0].text[:160]}")  # type: ignore[union-attr]

    # --- cached get_job against bench_tools.py's bare server (the same payload, async), in
    # memory, interleaved. Two paths: Client.call_tool (the Python SDK client also re-validates
    # the result against the tool's output schema with jsonschema, a client-side cost that grows
    # with the schema) and the raw tools/call request (transport + server: what every client pays).
    app = make_app(jobs, latency_ms, cache=True)
    sim = app.simulators["demo"]
    sim.state()
    finished = next(j for j in sim.plan.jobs if j.status == "ABEND").id

    def raw(client: Client, name: str, args: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
        request = types.CallToolRequest(params=types.CallToolRequestParams(name=name, arguments=args))
        return lambda: client.session.send_request(request, types.CallToolResult)

    paths: dict[str, dict[str, list[float]]] = {"Client.call_tool": {}, "raw tools/call": {}}
    async with Client(app.server) as g:
        first = await g.call_tool("get_job", {"job": finished})  # warm: the one upstream request
        bare = bare_server(JobDetail.model_validate(first.structured_content))
        async with Client(bare) as b:
            fns = {
                "Client.call_tool": (
                    lambda: b.call_tool("get_job", {"job": finished}),
                    lambda: g.call_tool("get_job", {"job": finished}),
                ),
                "raw tools/call": (raw(b, "get_job", {"job": finished}), raw(g, "get_job", {"job": finished})),
            }
            for path, (bare_fn, job_fn) in fns.items():
                await timed(30, bare_fn)
                await timed(30, job_fn)
                lat = paths[path]
                for _ in range(10):  # interleaved, so drift hits both alike
                    lat.setdefault("bare", []).extend(await timed(30, bare_fn))
                    lat.setdefault("get_job", []).extend(await timed(30, job_fn))
            assert not (await fns["raw tools/call"][1]()).is_error
    await app.aclose()
    print("cached get_job vs a bare async tool returning the same payload (in memory, 300 calls each):")
    for path, lat in paths.items():
        bm, gm = statistics.median(lat["bare"]), statistics.median(lat["get_job"])
        print(f"  {path:<17} get_job p50 {gm:.3f} ms, bare p50 {bm:.3f} ms: {gm / bm:.2f}x")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--jobs", type=int, default=2000)
    a = ap.parse_args()
    anyio.run(main, a.sessions, a.calls, a.latency_ms, a.jobs)
