"""The hot path: a cached `get_job` against the strictest fair baseline, a bare SDK server whose
async `get_job` returns the same payload (the same JobDetail, so the same output schema and the
same bytes on the wire), measured in the same run.

- In memory: raw `tools/call` requests (no client-side output-schema check, which costs both the
  same), calls alternated one by one between the two servers, over several rounds; the figure is
  the median of the rounds' ratios (p50 and p95).
- Over Streamable HTTP on 127.0.0.1: calls per second with 20 and 50 concurrent sessions, our
  server (`serve --demo`, default settings: INFO log line, audit on) against the bare one in its
  own process, runs alternated.

    python bench/bench_tools.py [--jobs 10000] [--calls 300] [--rounds 5] [--http-calls 40]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, types
from mcp.server.mcpserver import MCPServer

from httpload import free_port, load
from resync_mcp import logs
from resync_mcp.app import build_app
from resync_mcp.config import load_settings
from resync_mcp.services.views import JobDetail

for _name in ("httpx", "httpx2", "mcp"):  # one line per request would bury the table and slow the client
    logging.getLogger(_name).setLevel(logging.WARNING)

BARE = """
import sys
from pathlib import Path
from mcp.server.mcpserver import MCPServer
from resync_mcp.services.views import JobDetail
payload = JobDetail.model_validate_json(Path(sys.argv[2]).read_text())
m = MCPServer("bare")
@m.tool()
async def get_job(job: str, engine: str | None = None) -> JobDetail:
    return payload
# The strictest baseline: no access log, no per-request line at all.
import uvicorn
uvicorn.run(m.streamable_http_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def bare_server(payload: JobDetail) -> MCPServer:
    m = MCPServer("bare")

    @m.tool()
    async def get_job(job: str, engine: str | None = None) -> JobDetail:
        return payload

    return m


async def raw_call(client: Client, job: str) -> float:
    request = types.CallToolRequest(params=types.CallToolRequestParams(name="get_job", arguments={"job": job}))
    t = time.perf_counter()
    result = await client.session.send_request(request, types.CallToolResult)
    took = time.perf_counter() - t
    assert not result.is_error, result.content
    return took * 1000


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * q))]


def start(cmd: list[str], env: dict[str, str], cwd: Path, port: int) -> subprocess.Popen[bytes]:
    """Start a server; its stderr is drained (log lines must never fill the pipe and stall it)."""
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, cwd=cwd)
    assert proc.stderr is not None
    threading.Thread(target=proc.stderr.read, daemon=True).start()
    ends = time.monotonic() + 60
    while time.monotonic() < ends and proc.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return proc
        time.sleep(0.1)
    raise RuntimeError(f"server did not start: {cmd}")


async def in_memory(jobs: int, calls: int, rounds: int) -> tuple[str, JobDetail]:
    # No knowledge warm-up (as over HTTP below): loading the model in a thread would run during the rounds.
    demo = {"demo": {"enabled": True, "jobs": jobs, "seed": 42}, "knowledge": {"warm_up": False}}
    app = build_app(load_settings(None, demo))
    job = app.simulators["demo"].plan.jobs[jobs // 2].id
    await app.start()
    async with Client(app.server) as ours:
        first = await ours.call_tool("get_job", {"job": job})
        payload = JobDetail.model_validate(first.structured_content)
        async with Client(bare_server(payload)) as bare:
            bare_result = await bare.call_tool("get_job", {"job": job})
            assert bare_result.structured_content == first.structured_content  # the same payload
            for _ in range(30):  # warm both
                await raw_call(ours, job)
                await raw_call(bare, job)
            p50s, p95s, p99s, shown = [], [], [], []
            for _ in range(rounds):
                a: list[float] = []
                b: list[float] = []
                for _ in range(calls):
                    a.append(await raw_call(ours, job))
                    b.append(await raw_call(bare, job))
                p50s.append(statistics.median(a) / statistics.median(b))
                p95s.append(pct(a, 0.95) / pct(b, 0.95))
                p99s.append(pct(a, 0.99) / pct(b, 0.99))
                shown.append((statistics.median(a), statistics.median(b)))
    await app.aclose()
    print(f"in memory, cached get_job vs bare async tool, same payload, {rounds} rounds x {calls} alternated calls")
    for i, (x, y) in enumerate(shown):
        print(f"  round {i + 1}: ours p50 {x:.3f} ms, bare p50 {y:.3f} ms ({x / y:.2f}x)")
    print(
        f"  median ratio: p50 {statistics.median(p50s):.2f}x, p95 {statistics.median(p95s):.2f}x,"
        f" p99 {statistics.median(p99s):.2f}x"
    )
    return job, payload


async def over_http(jobs: int, job: str, payload: JobDetail, calls: int, rounds: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="resync-bench-tools-"))
    (folder / "payload.json").write_text(payload.model_dump_json())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESYNC_", "XDG_"))}
    env |= {"HOME": str(folder), "RESYNC_KNOWLEDGE__WARM_UP": "false"}
    bare_port, port = free_port(), free_port()
    bare = start([sys.executable, "-c", BARE, str(bare_port), str(folder / "payload.json")], env, folder, bare_port)
    serve = ["serve", "--demo", "--demo-jobs", str(jobs), "--demo-seed", "42", "--transport", "http"]
    ours = start([sys.executable, "-m", "resync_mcp", *serve, "--port", str(port)], env, folder, port)
    urls = {"ours": f"http://127.0.0.1:{port}/mcp", "bare": f"http://127.0.0.1:{bare_port}/mcp"}
    try:
        for name in urls:
            await load(urls[name], 5, 10, job=job, raw=True)  # warm
        print(f"Streamable HTTP, calls/s, {rounds} alternated rounds of {calls} calls per session")
        for sessions in (20, 50):
            ratios = []
            for r in range(rounds):
                order = ("ours", "bare") if r % 2 == 0 else ("bare", "ours")
                rate: dict[str, Any] = {}
                for name in order:
                    rate[name] = (await load(urls[name], sessions, calls, job=job, raw=True))[1]
                ratios.append(rate["ours"] / rate["bare"])
                print(f"  {sessions} sessions, round {r + 1}: ours {rate['ours']:.0f}/s, bare {rate['bare']:.0f}/s")
            print(f"  {sessions} sessions: median ratio {statistics.median(ratios):.2f}x the bare server's calls/s")
    finally:
        for p in (bare, ours):
            p.terminate()
            p.wait(timeout=10)


async def main(jobs: int, calls: int, rounds: int, http_calls: int) -> None:
    logs.configure("INFO")  # as the server runs: its per-call line included, written to a file
    shown, sys.stderr = sys.stderr, open(os.devnull, "w")  # noqa: SIM115, ASYNC230 (restored below)
    try:
        job, payload = await in_memory(jobs, calls, rounds)
    finally:
        sys.stderr.close()
        sys.stderr = shown
    await over_http(jobs, job, payload, http_calls, rounds)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--http-calls", type=int, default=40)
    a = ap.parse_args()
    anyio.run(main, a.jobs, a.calls, a.rounds, a.http_calls)
