"""What the background warm-up buys a user: the first knowledge call of a stdio server made
after warm-up, against the first call of a server that loads on first use, fresh HOME each,
runs alternated.

python bench/bench_warmup.py [--runs 3] [--after 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import anyio
from mcp import Client, StdioServerParameters


async def first_search(warm_up: bool, after_s: float) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESYNC_", "XDG_"))}
    env |= {"HOME": tempfile.mkdtemp(prefix="resync-bench-home-"), "RESYNC_KNOWLEDGE__WARM_UP": str(warm_up).lower()}
    params = StdioServerParameters(command=sys.executable, args=["-m", "resync_mcp", "serve", "--demo"], env=env)
    async with Client(params) as mcp:
        await mcp.call_tool("server_health", {})  # the app is built
        await anyio.sleep(after_s)  # a person reads the first answers; the warm-up has this long
        started = time.perf_counter()
        result = await mcp.call_tool("search_knowledge", {"query": "workstation unlinked, jobs stay READY"})
        assert not result.is_error, result.content
        return time.perf_counter() - started


async def main(runs: int, after_s: float) -> None:
    warm: list[float] = []
    cold: list[float] = []
    for _ in range(runs):
        warm.append(await first_search(True, after_s))
        cold.append(await first_search(False, after_s))
    print(f"first search_knowledge call {after_s:.0f} s after start, median of {runs} (fresh HOME each):")
    print(f"  with the background warm-up: {statistics.median(warm):.3f} s  ({', '.join(f'{w:.3f}' for w in warm)})")
    print(f"  loaded on first use:         {statistics.median(cold):.3f} s  ({', '.join(f'{c:.3f}' for c in cold)})")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--after", type=float, default=20.0)
    args = ap.parse_args()
    anyio.run(main, args.runs, args.after)
