"""What safety costs: a control call's latency next to a cached read and a bare SDK tool.

In memory, on a 2,000-job simulated plan: ``set_job_priority`` as preview and as a real
(idempotency-keyed) call, a replay of that key, and a cached ``get_job``; each against a
bare MCPServer tool returning a constant, measured in the same run. Raw ``tools/call``
requests, so the Python client's own result validation is not counted.

    python bench/bench_control.py [--calls 200]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp import Client, types
from mcp.server.mcpserver import MCPServer

from resync_mcp import logs
from resync_mcp.app import build_app
from resync_mcp.config import load_settings


def raw(client: Client, name: str, args: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
    request = types.CallToolRequest(params=types.CallToolRequestParams(name=name, arguments=args))
    return lambda: client.session.send_request(request, types.CallToolResult)


async def timed(n: int, fn: Callable[[], Awaitable[Any]]) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        result = await fn()
        out.append((time.perf_counter() - t) * 1000)
        assert not result.is_error, result.content
    return out


async def main(calls: int) -> None:
    logs.configure("WARNING")
    bare = MCPServer("bare")

    @bare.tool()
    def const() -> dict[str, int]:
        return {"value": 1}

    app = build_app(load_settings(None, {"demo": {"enabled": True, "jobs": 2000, "seed": 42}}))
    sim = app.simulators["demo"]
    sim.state()
    job = next(j for j in sim.plan.jobs if j.status == "HOLD")
    counter = iter(range(10**9))
    rows: dict[str, list[float]] = {}
    async with Client(bare) as b, Client(app.server) as g:
        await raw(g, "get_job", {"job": job.id})()

        async def act() -> Any:
            i = next(counter)
            return await raw(
                g, "set_job_priority", {"job": job.id, "priority": i % 90 + 1, "idempotency_key": f"b{i}"}
            )()

        await raw(g, "set_job_priority", {"job": job.id, "priority": 5, "idempotency_key": "replay"})()
        fns = {
            "bare constant": raw(b, "const", {}),
            "get_job (cached)": raw(g, "get_job", {"job": job.id}),
            "preview": raw(g, "set_job_priority", {"job": job.id, "priority": 7, "preview": True}),
            "act (1 write)": act,
            "replayed key": raw(g, "set_job_priority", {"job": job.id, "priority": 5, "idempotency_key": "replay"}),
        }
        for name, fn in fns.items():
            await timed(20, fn)
            rows[name] = await timed(calls, fn)
    writes = len(sim.writes)
    await app.aclose()
    base = statistics.median(rows["bare constant"])
    print(f"control calls, in memory, 2,000-job plan, {calls} calls per row (ms; ratio = p50 / bare constant p50)")
    print(f"{'call':<20}{'p50':>8}{'p95':>8}{'x bare':>8}")
    for name, lat in rows.items():
        s = sorted(lat)
        p50, p95 = statistics.median(s), s[int(len(s) * 0.95) - 1]
        print(f"{name:<20}{p50:>8.2f}{p95:>8.2f}{p50 / base:>8.1f}")
    print(
        f"write requests the engine received: {writes} (expected {calls + 20 + 1}: one per real call, none per replay)"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200)
    anyio.run(main, ap.parse_args().calls)
