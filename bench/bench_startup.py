"""Time from process start to the first tools/list answer over stdio, against a bare SDK server
measured in the same run (runs alternated), and the whole wait of a first question: start to
the answer of the first tools/call (plan_summary for us, the bare server's one tool).

python bench/bench_startup.py [--runs 7]
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


def once(cmd: list[str], tool: str) -> tuple[float, float]:
    """Seconds from start to the tools/list answer, and to the first tools/call answer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESYNC_", "XDG_"))}
    env["HOME"] = HOME  # a fresh user, as a desktop client starts it: no data folder yet on the first run
    call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": tool, "arguments": {}}}
    t = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    assert proc.stdin and proc.stdout
    for msg in (INIT, INITIALIZED, LIST, call):
        proc.stdin.write(json.dumps(msg) + "\n")
    proc.stdin.flush()
    listed = called = 0.0
    for line in proc.stdout:
        answer = json.loads(line)
        if answer.get("id") == 2:
            listed = time.perf_counter() - t
        if answer.get("id") == 3:
            assert "result" in answer and not answer["result"].get("isError"), answer
            called = time.perf_counter() - t
            break
    proc.kill()
    proc.wait()
    return listed, called


def main(runs: int) -> None:
    bare = [
        sys.executable,
        "-c",
        "from mcp.server.mcpserver import MCPServer\nm=MCPServer('b')\n"
        "@m.tool()\ndef c() -> int:\n    return 1\nm.run()",
    ]
    ours = [sys.executable, "-m", "resync_mcp", "serve", "--demo"]
    b: list[tuple[float, float]] = []
    o: list[tuple[float, float]] = []
    for _ in range(runs):  # alternated, so that a busy moment of the machine hits both alike
        b.append(once(bare, "c"))
        o.append(once(ours, "plan_summary"))
    bl, ol = statistics.median(x[0] for x in b), statistics.median(x[0] for x in o)
    bc, oc = statistics.median(x[1] for x in b), statistics.median(x[1] for x in o)
    print(f"stdio, median of {runs} alternated runs (ours: serve --demo, a 2,000-job plan):")
    print(f"  start -> first tools/list: bare MCPServer {bl:.2f}s, resync-mcp {ol:.2f}s, ratio {ol / bl:.2f}")
    print(f"  start -> first tools/call answer: bare {bc:.2f}s, resync-mcp (plan_summary) {oc:.2f}s")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    main(ap.parse_args().runs)
