"""Latency of get_job and find_jobs on a 10,000-job simulated plan, against a bare baseline.

Prints median and p95 per tool, in memory and over Streamable HTTP (127.0.0.1), next to a
bare MCPServer tool that returns a constant, measured in the same run, as ratios.

    python bench/bench_tools.py [--jobs 10000] [--calls 200]
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp import Client
from mcp.server.mcpserver import MCPServer

from resync_mcp.app import build_app
from resync_mcp.config import load_settings

for _name in ("httpx", "httpx2"):  # one line per request would bury the table
    logging.getLogger(_name).setLevel(logging.WARNING)

BARE = """
from mcp.server.mcpserver import MCPServer
m = MCPServer("bare")
@m.tool()
def const() -> dict[str, int]:
    return {"value": 1}
import sys
m.run(transport="streamable-http", port=int(sys.argv[1]))
"""


def bare_server() -> MCPServer:
    m = MCPServer("bare")

    @m.tool()
    def const() -> dict[str, int]:
        return {"value": 1}

    return m


async def measure(n: int, fn: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    for _ in range(min(20, n)):
        await fn()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(cmd: list[str]) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESYNC_")}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "Uvicorn running" in line:
            # Keep draining stderr so per-call log lines can never fill the pipe and stall the server.
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc
    raise RuntimeError("server did not start")


async def tool_calls(client: Client, job_id: str) -> dict[str, Callable[[], Awaitable[Any]]]:
    async def get_job() -> Any:
        r = await client.call_tool("get_job", {"job": job_id})
        assert not r.is_error

    async def find_jobs() -> Any:
        r = await client.call_tool("find_jobs", {"status": ["ERROR"], "limit": 25})
        assert not r.is_error

    return {"get_job": get_job, "find_jobs": find_jobs}


async def main(jobs: int, calls: int) -> None:
    rows: list[tuple[str, str, float, float]] = []
    settings = load_settings(None, {"demo": {"enabled": True, "jobs": jobs, "seed": 42}})
    app = build_app(settings)
    sim = app.simulators["demo"]
    job_id = sim.plan.jobs[len(sim.plan.jobs) // 2].id

    async with Client(bare_server()) as bare:
        rows.append(("memory", "bare const", *await measure(calls, lambda: bare.call_tool("const", {}))))
    async with Client(app.server) as client:
        for name, fn in (await tool_calls(client, job_id)).items():
            rows.append(("memory", name, *await measure(calls, fn)))

    bare_port, port = free_port(), free_port()
    bare_proc = start([sys.executable, "-c", BARE, str(bare_port)])
    proc = start(
        [
            sys.executable,
            "-m",
            "resync_mcp",
            "serve",
            "--demo",
            "--demo-jobs",
            str(jobs),
            "--demo-seed",
            "42",
            "--transport",
            "http",
            "--port",
            str(port),
        ]
    )
    try:
        async with Client(f"http://127.0.0.1:{bare_port}/mcp") as bare:
            rows.append(("http", "bare const", *await measure(calls, lambda: bare.call_tool("const", {}))))
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            for name, fn in (await tool_calls(client, job_id)).items():
                rows.append(("http", name, *await measure(calls, fn)))
    finally:
        for p in (bare_proc, proc):
            p.terminate()
            p.wait(timeout=10)
    await app.aclose()

    base = {t: (m, p) for t, n, m, p in rows if n == "bare const"}
    print(f"{jobs}-job simulated plan, {calls} calls per row (ms; ratio = row / bare const, same transport)")
    print(f"{'transport':<10}{'tool':<12}{'median':>9}{'p95':>9}{'x median':>10}{'x p95':>8}")
    for transport, name, med, p95 in rows:
        bm, bp = base[transport]
        print(f"{transport:<10}{name:<12}{med:>9.2f}{p95:>9.2f}{med / bm:>10.1f}{p95 / bp:>8.1f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--calls", type=int, default=200)
    a = ap.parse_args()
    anyio.run(main, a.jobs, a.calls)
