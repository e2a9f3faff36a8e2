"""Plan size against what a user waits for: the demo server (built-in simulator) at 10,000 and
100,000 jobs, driven through MCP in memory, each figure the whole cost of the call as a client
sees it (the first call's build included where there is one).

- start: building the app (the plan generated, the tools registered) until tools/list answers;
- find_jobs with a filter not used before, and its next page (p50/p95 over distinct filters);
- job_dependencies and plan_summary, first call;
- impact_of_failure, first call on a failed job and on others (each reads that job's downstream);
- root_cause, first calls on waiting jobs (each reads what holds that job);
- critical_path, first calls on jobs (each reads that job's predecessors);
- critical_path on job streams (each reads its jobs and their predecessors);
- deadlines_at_risk before the whole-plan graph is read (answers at once), the background build's
  wall time, a get_job issued every 50 ms while it runs, timed from when it was due (does the
  build stall other calls?), and the answer once ready;
- ten minutes of plan time later: how many jobs changed, and the background refresh's time
  against the build's;
- RSS of this process after all that.

python bench/bench_scale.py [--sizes 10000 100000] [--calls 20]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from resync_mcp import logs
from resync_mcp.app import build_app
from resync_mcp.config import load_settings


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * q))]


async def timed(mcp: Client, tool: str, args: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    t = time.perf_counter()
    result = await mcp.call_tool(tool, args)
    took = (time.perf_counter() - t) * 1000
    assert not result.is_error, (tool, result.content)
    return took, dict(result.structured_content or {})


async def run(size: int, calls: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="resync-bench-scale-"))
    config = folder / "resync.toml"
    config.write_text(
        f'[demo]\nenabled = true\njobs = {size}\n\n[audit]\ndir = "{folder / "audit"}"\n\n'
        f'[knowledge]\nenabled = false\n\n[security]\ntoolsets = ["read"]\n'
    )
    t = time.perf_counter()
    app = build_app(load_settings(str(config)))
    await app.start()
    async with Client(app.server) as mcp:
        await mcp.list_tools()
        start_s = time.perf_counter() - t
        summary_ms, _ = await timed(mcp, "plan_summary", {})
        streams = (await timed(mcp, "find_job_streams", {"limit": calls}))[1]["job_streams"]
        first, nxt = [], []
        for stream in streams[:calls]:  # a filter not used before, then its next page
            took, page = await timed(mcp, "find_jobs", {"job_stream": stream["name"], "limit": 2})
            first.append(took)
            if page.get("next_cursor"):
                nxt.append(
                    (await timed(mcp, "find_jobs", {"job_stream": stream["name"], "cursor": page["next_cursor"]}))[0]
                )
        failed = (await timed(mcp, "find_jobs", {"status": ["ERROR"], "limit": calls}))[1]["jobs"]
        deps = [(await timed(mcp, "job_dependencies", {"job": j["id"]}))[0] for j in failed[:calls]]
        impact_first = (await timed(mcp, "impact_of_failure", {"job": failed[0]["id"]}))[0]
        impacts = [await timed(mcp, "impact_of_failure", {"job": j["id"]}) for j in failed[1:calls]]
        warm = [took for took, _ in impacts]
        blocked = statistics.median(answer["blocked_total"] for _, answer in impacts)  # the answers' size
        small = [took for took, answer in impacts if answer["blocked_total"] <= 5]  # like-sized answers
        held = (await timed(mcp, "find_jobs", {"status": ["WAITING"], "limit": calls}))[1]["jobs"]
        causes = [(await timed(mcp, "root_cause", {"job": j["id"]}))[0] for j in held]
        paths = [(await timed(mcp, "critical_path", {"target": j["id"]}))[0] for j in held]
        stream_paths = [
            (await timed(mcp, "critical_path", {"target": sid}))[0]
            for sid in dict.fromkeys(j["job_stream_id"] for j in held)
        ]
        assert app.graph is not None
        client = app.engines.get("demo")
        done = anyio.Event()
        during: list[float] = []
        t = time.perf_counter()
        not_ready_ms, answer = await timed(mcp, "deadlines_at_risk", {})
        assert answer["ready"] is False
        build_s = 0.0

        async def background_build() -> None:
            nonlocal build_s
            await app.graph.whole.wait(client)  # type: ignore[union-attr]
            build_s = time.perf_counter() - t
            done.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(background_build)
            while not done.is_set():  # a call due every 50 ms, the whole build long; its time
                due = time.perf_counter() + 0.05  # counts from when it was due: a busy loop shows
                with anyio.move_on_after(0.05):
                    await done.wait()
                await timed(mcp, "get_job", {"job": failed[1]["id"]})
                during.append((time.perf_counter() - due) * 1000)
        ready_ms, answer = await timed(mcp, "deadlines_at_risk", {})
        assert answer["ready"] is True
        sim = app.simulators["demo"]
        before = {j.id: j.status for j in sim.plan.jobs}
        sim.advance(600)  # ten minutes of the plan running on its own
        sim.state()
        moved = sum(1 for j in sim.plan.jobs if before[j.id] != j.status)
        app.graph.invalidate("demo")
        t = time.perf_counter()
        stale_ms, answer = await timed(mcp, "deadlines_at_risk", {})
        state = await app.graph.whole.wait(client)
        refresh_s = time.perf_counter() - t
        report = state.last
    await app.aclose()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def fmt(values: list[float]) -> str:
        return f"p50 {statistics.median(values):7.1f} ms  p95 {pct(values, 0.95):7.1f} ms" if values else "n/a"

    print(f"{size:>7,} jobs")
    print(f"  start to tools/list          {start_s * 1000:8.0f} ms")
    print(f"  plan_summary, first call     {summary_ms:8.1f} ms")
    print(f"  find_jobs, new filter        {fmt(first)}")
    print(f"  find_jobs, next page         {fmt(nxt)}")
    print(f"  job_dependencies, first call {fmt(deps)}")
    print(f"  impact_of_failure, first     {impact_first:8.1f} ms (the job's downstream, read for it)")
    print(f"  impact_of_failure, others    {fmt(warm)} (median answer: {blocked:.0f} jobs blocked)")
    print(f"    of which answers of <= 5   {fmt(small)} ({len(small)} calls: like for like across plan sizes)")
    print(f"  root_cause, first calls      {fmt(causes)} (what holds each job, read upward for it)")
    print(f"  critical_path, job, first    {fmt(paths)} (its predecessors, read for it)")
    print(f"  critical_path, job streams   {fmt(stream_paths)} (their jobs and predecessors, read for them)")
    print(f"  deadlines_at_risk, first     {not_ready_ms:8.1f} ms (answers at once: not ready, with progress)")
    print(f"  whole-plan graph, background {build_s * 1000:8.0f} ms (read, and every expected finish)")
    print(f"  get_job during that build    {fmt(during)} ({len(during)} calls)")
    print(f"  deadlines_at_risk, ready     {ready_ms:8.1f} ms")
    print(f"  after 10 min of plan time    {moved:8,} jobs changed status ({moved / size:.1%})")
    print(f"  deadlines_at_risk, stale     {stale_ms:8.1f} ms (answers from the last read while it refreshes)")
    share = refresh_s / build_s
    print(f"  refresh, background          {refresh_s * 1000:8.0f} ms ({share:.1%} of the build; {report})")
    print(f"  peak RSS of this process     {rss:8.0f} MB")


async def main(sizes: list[int], calls: int) -> None:
    logs.configure("WARNING")
    for size in sizes:
        await run(size, calls)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--calls", type=int, default=20)
    a = ap.parse_args()
    anyio.run(main, a.sizes, a.calls)
