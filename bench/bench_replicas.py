"""One replica against two behind nginx: calls/s and p50/p95 of a cached `get_job` over
Streamable HTTP in stateless mode, 50 concurrent sessions, with Redis and the simulator as the
configured engine, the two layouts measured alternately in the same run (one nginx in front of
replica A alone, another in front of A and B). Then where the time went: CPU seconds of each
process over the whole run.

On 2 cores expect little gain: the load generator, nginx, Redis and both replicas share them.

python bench/bench_replicas.py [--sessions 50] [--calls 40] [--rounds 4]
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
import httpx
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from httpload import free_port, load, p95

for _name in ("httpx", "httpx2"):
    logging.getLogger(_name).setLevel(logging.WARNING)

NGINX = """worker_processes 1; pid {root}/nginx.pid; error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{ access_log off; client_body_temp_path {root}/body; proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/f; uwsgi_temp_path {root}/u; scgi_temp_path {root}/s;
  upstream resync {{ {servers} keepalive 64; }}
  server {{ listen 127.0.0.1:{port};
    location / {{ proxy_pass http://resync; proxy_http_version 1.1; proxy_set_header Host $host:$server_port;
      proxy_set_header Connection ""; proxy_buffering off; }} }} }}
"""


def until_up(url: str) -> None:
    for _ in range(400):
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit(f"{url} never answered")


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))


def cpu_s(pid: int) -> float:
    """CPU seconds of a process and its children now alive (nginx's worker, for one)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def main(sessions: int, calls: int, rounds: int) -> None:
    nginx = shutil.which("nginx") or shutil.which("/usr/sbin/nginx")
    redis = shutil.which("redis-server")
    if not (nginx and redis):
        raise SystemExit("needs nginx and redis-server (scripts/ensure-services.sh installs them)")
    folder = Path(tempfile.mkdtemp(prefix="resync-bench-replicas-"))
    print(f"logs: {folder}")
    procs: dict[str, subprocess.Popen[bytes]] = {}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESYNC_", "XDG_"))}
    try:
        redis_port, sim_port = free_port(), free_port()
        procs["redis"] = spawn(
            [redis, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            env,
            folder / "redis.log",
        )
        procs["simulator"] = spawn(
            [sys.executable, "-m", "resync_mcp", "simulator", "--port", str(sim_port), "--jobs", "2000"],
            env,
            folder / "simulator.log",
        )
        until_up(f"http://127.0.0.1:{sim_port}/_sim/info")
        one_port, two_port = free_port(), free_port()
        config = folder / "resync.toml"
        config.write_text(
            f'[engines.lab]\nbase_url = "http://127.0.0.1:{sim_port}"\nauth = "basic"\nusername = "u"\n\n'
            f'[cache]\nredis_url = "redis://127.0.0.1:{redis_port}/0"\n\n'
            f'[server]\nstateless = true\nallowed_hosts = ["127.0.0.1:{one_port}", "127.0.0.1:{two_port}"]\n'
        )
        replica_env = env | {
            "RESYNC_ENGINES__LAB__PASSWORD": "p",
            "RESYNC_KNOWLEDGE__WARM_UP": "false",
            "RESYNC_LOG_LEVEL": "WARNING",
            "RESYNC_SERVER__REQUEST_STATE_KEYS": secrets.token_urlsafe(32),
        }
        ports = [free_port(), free_port()]
        for name, port in zip(("replica A", "replica B"), ports, strict=True):
            home = folder / name.replace(" ", "-")
            home.mkdir()
            args = [sys.executable, "-m", "resync_mcp", "--config", str(config), "serve", "--transport", "http"]
            procs[name] = spawn([*args, "--port", str(port)], replica_env | {"HOME": str(home)}, home / "server.log")
        for port in ports:
            until_up(f"http://127.0.0.1:{port}/healthz")
        for label, port, ups in (("nginx (1)", one_port, ports[:1]), ("nginx (2)", two_port, ports)):
            root = folder / label.replace(" ", "").strip("()")
            root.mkdir()
            servers = " ".join(f"server 127.0.0.1:{p};" for p in ups)
            (root / "nginx.conf").write_text(NGINX.format(root=root, port=port, servers=servers))
            conf = str(root / "nginx.conf")
            procs[label] = spawn([nginx, "-c", conf, "-p", str(root), "-g", "daemon off;"], env, root / "out.log")
            until_up(f"http://127.0.0.1:{port}/healthz")
        urls = {"1 replica ": f"http://127.0.0.1:{one_port}/mcp", "2 replicas": f"http://127.0.0.1:{two_port}/mcp"}
        async with Client(streamable_http_client(urls["2 replicas"])) as mcp:
            found = await mcp.call_tool("find_jobs", {"status": ["SUCC"], "limit": 1})
            job = found.structured_content["jobs"][0]["id"]  # type: ignore[index]
        for url in urls.values():  # warm both layouts (and both replicas' caches)
            await load(url, 4, 5, job=job)
        cpu0 = {name: cpu_s(p.pid) for name, p in procs.items()} | {"load generator": time.process_time()}
        results: dict[str, list[tuple[list[float], float]]] = {k: [] for k in urls}
        for _ in range(rounds):  # alternated
            for layout, url in urls.items():
                results[layout].append(await load(url, sessions, calls, job=job))
        cpu = {name: cpu_s(p.pid) - cpu0[name] for name, p in procs.items()}
        cpu["load generator"] = time.process_time() - cpu0["load generator"]
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.wait(timeout=30)
    head = f"Streamable HTTP (stateless) via nginx, get_job (cached), {sessions} sessions x {calls} calls"
    print(f"{head}, {rounds} alternated rounds:")
    rows = {}
    for layout, runs in results.items():
        lat = [x for r in runs for x in r[0]]
        rows[layout] = (statistics.median(lat) * 1000, p95(lat) * 1000, statistics.median(r[1] for r in runs))
        print(
            f"  {layout}  p50 {rows[layout][0]:7.2f} ms  p95 {rows[layout][1]:7.2f} ms  {rows[layout][2]:7.1f} calls/s"
        )
    one, two = rows["1 replica "], rows["2 replicas"]
    print(f"  2 / 1: throughput {two[2] / one[2]:.2f}x, p50 {two[0] / one[0]:.2f}x, p95 {two[1] / one[1]:.2f}x")
    total = sum(cpu.values())
    print(f"  where the time went: CPU seconds over the measured rounds, {total:.1f} s in all")
    for name, seconds in sorted(cpu.items(), key=lambda kv: -kv[1]):
        print(f"    {name:15} {seconds:6.1f} s  ({seconds / total:4.0%})")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=4)
    a = ap.parse_args()
    anyio.run(main, a.sessions, a.calls, a.rounds)
