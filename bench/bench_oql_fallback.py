"""What an engine that refuses our OQL fields costs: find_jobs and job_dependencies on the same
simulated plan, once with the engine filtering every field we use ("paths") and once with an
engine that accepts only the fields confirmed on real engines ("confirmed"), where the client
applies the rest itself. Same seed, same questions, calls alternated, in memory.

Prints per question: median and p95 latency and requests sent to the engine per call, and the
ratio confirmed/paths. The fallback reads at most 20,000 objects per question, so on larger
plans its answers say they were cut.

    python bench/bench_oql_fallback.py [--jobs 2000 20000] [--calls 20]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import structlog
from mcp import Client

from resync_mcp.app import App, build_app
from resync_mcp.clock import SystemClock
from resync_mcp.config import load_settings
from resync_mcp.simulator import Simulator

for _name in ("httpx", "httpx2"):
    logging.getLogger(_name).setLevel(logging.WARNING)
structlog.configure(
    wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING)
)  # one line per call buries the table

QUESTIONS: list[tuple[str, dict[str, Any]]] = [
    ("find_jobs", {"status": ["ERROR"], "limit": 50}),
    ("find_jobs", {"job_stream": "FIN*", "status": ["HOLD"], "limit": 50}),
    ("find_jobs", {"critical": True, "sort": "-sched_time", "limit": 20}),
]


def make_app(mode: str, jobs: int, data: Path) -> tuple[App, Simulator]:
    clock = SystemClock()
    sim = Simulator.create(7, jobs, clock, oql_fields=mode)  # type: ignore[arg-type]
    settings = load_settings(
        None,
        {
            "demo": {"enabled": True, "seed": 7, "jobs": jobs},
            "cache": {"enabled": False},
            "audit": {"dir": str(data / mode / "audit")},  # one chain per app
        },
    )
    return build_app(settings, clock=clock, simulator=sim), sim


async def run(jobs: int, calls: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="bench-oql-"))
    apps = {mode: make_app(mode, jobs, data) for mode in ("paths", "confirmed")}
    async with AsyncExitStack() as stack:
        clients = {mode: await stack.enter_async_context(Client(app.server)) for mode, (app, _) in apps.items()}
        print(f"\n{jobs} jobs, {calls} calls per question and mode (cache off, in memory)")
        print(f"{'question':44} {'mode':10} {'p50 ms':>8} {'p95 ms':>8} {'req/call':>9} {'note'}")
        for tool, args in QUESTIONS:
            samples: dict[str, list[float]] = {m: [] for m in clients}
            sent: dict[str, int] = {m: 0 for m in clients}
            note = ""
            for _ in range(calls):
                for mode, client in clients.items():  # alternated, so drift hits both
                    engine = apps[mode][0].engines.get("demo")
                    before = engine.requests_made
                    t = time.perf_counter()
                    result = await client.call_tool(tool, args)
                    samples[mode].append((time.perf_counter() - t) * 1000)
                    sent[mode] += engine.requests_made - before
                    if mode == "confirmed":
                        note = str((result.structured_content or {}).get("note") or "")[:60]
            label = f"{tool} {args}"[:44]
            p50 = {}
            for mode, xs in samples.items():
                xs.sort()
                p50[mode] = statistics.median(xs)
                p95 = xs[int(0.95 * (len(xs) - 1))]
                shown = note if mode == "confirmed" else ""
                print(f"{label:44} {mode:10} {p50[mode]:8.1f} {p95:8.1f} {sent[mode] / calls:9.1f} {shown}")
            print(f"{'':44} {'ratio':10} {p50['confirmed'] / p50['paths']:8.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    for jobs in args.jobs:
        anyio.run(run, jobs, args.calls)


if __name__ == "__main__":
    main()
