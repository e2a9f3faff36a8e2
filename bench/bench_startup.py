"""Time from process start to the first tools/list answer over stdio (median of N runs).

python bench/bench_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HOME = tempfile.mkdtemp(prefix="resync-bench-home-")

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


def once(cmd: list[str]) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESYNC_", "XDG_"))}
    env["HOME"] = HOME  # a fresh user, as a desktop client starts it: no data folder yet on the first run
    t = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    assert proc.stdin and proc.stdout
    for msg in (INIT, INITIALIZED, LIST):
        proc.stdin.write(json.dumps(msg) + "\n")
    proc.stdin.flush()
    for line in proc.stdout:
        if json.loads(line).get("id") == 2:
            break
    elapsed = time.perf_counter() - t
    proc.kill()
    proc.wait()
    return elapsed


def main(runs: int) -> None:
    bare = [
        sys.executable,
        "-c",
        "from mcp.server.mcpserver import MCPServer\nm=MCPServer('b')\n"
        "@m.tool()\ndef c() -> int:\n    return 1\nm.run()",
    ]
    ours = [sys.executable, "-m", "resync_mcp", "serve", "--demo"]
    bs: list[float] = []
    os_: list[float] = []
    for _ in range(runs):  # alternated, so that a busy moment of the machine hits both alike
        bs.append(once(bare))
        os_.append(once(ours))
    b, o = statistics.median(bs), statistics.median(os_)
    print(
        f"start -> first tools/list over stdio, median of {runs}: bare MCPServer {b:.2f}s, "
        f"resync-mcp serve --demo (2000-job plan) {o:.2f}s, ratio {o / b:.1f}"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    main(ap.parse_args().runs)
