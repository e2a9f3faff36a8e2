"""What authentication costs over HTTP: p50/p95 and calls/s with `auth.mode = oauth` (an RS256
token checked on every request against a JWKS served on loopback) against `none`, same plan,
same calls, 20 concurrent sessions, the two servers measured alternately in the same run.

python bench/bench_auth.py [--sessions 20] [--calls 150] [--rounds 6]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from httpload import free_port, load, p95

for _name in ("httpx", "httpx2"):
    logging.getLogger(_name).setLevel(logging.WARNING)

ISS = "https://id.bench.test/realms/ops"


def jwks_server(key: rsa.RSAPrivateKey) -> str:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())) | {"kid": "k1", "alg": "RS256"}
    body = json.dumps({"keys": [jwk]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{http.server_address[1]}/jwks"


def start(folder: Path, toml: str, port: int) -> subprocess.Popen[str]:
    config = folder / "resync.toml"
    config.write_text(f"[demo]\nenabled = true\njobs = 2000\n\n[server]\nport = {port}\n\n{toml}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESYNC_", "XDG_"))}
    env |= {"HOME": str(folder), "RESYNC_KNOWLEDGE__WARM_UP": "false", "RESYNC_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "resync_mcp", "--config", str(config), "serve", "--transport", "http"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=folder,
    )
    assert proc.stderr is not None
    log = (folder / "server.log").open("w")
    for line in proc.stderr:
        if "Uvicorn running" in line:

            def drain() -> None:
                assert proc.stderr is not None
                for rest in proc.stderr:
                    log.write(rest)
                    log.flush()

            threading.Thread(target=drain, daemon=True).start()
            return proc
    raise SystemExit("server did not start")


async def main(sessions: int, calls: int, rounds: int) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks = jwks_server(key)
    folder = Path(tempfile.mkdtemp(prefix="resync-bench-auth-"))
    print(f"server logs: {folder}/*/server.log")
    (folder / "none").mkdir()
    (folder / "oauth").mkdir()
    p_none, p_oauth = free_port(), free_port()
    audience = f"http://127.0.0.1:{p_oauth}/mcp"
    oauth = f'[auth]\nmode = "oauth"\nissuer = "{ISS}"\njwks_url = "{jwks}"\naudience = "{audience}"\n'
    oauth += "\n[security]\nrate_per_minute = { read = 0 }\n"  # the cost of auth, not of the rate limit
    now = int(time.time())
    claims = {"iss": ISS, "sub": "bench", "aud": audience, "iat": now, "exp": now + 3600, "scope": "hwa.read"}
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    servers = [start(folder / "none", "", p_none), start(folder / "oauth", oauth, p_oauth)]
    results: dict[str, list[tuple[list[float], float]]] = {"none": [], "oauth": []}
    try:
        await load(f"http://127.0.0.1:{p_none}/mcp", 2, 5)  # warm both
        await load(audience, 2, 5, token=token)
        for _ in range(rounds):  # alternated
            results["none"].append(await load(f"http://127.0.0.1:{p_none}/mcp", sessions, calls))
            results["oauth"].append(await load(audience, sessions, calls, token=token))
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"Streamable HTTP, get_job (cached), {sessions} sessions x {calls} calls, {rounds} alternated rounds:")
    rows = {}
    for mode, runs in results.items():
        lat = [x for r in runs for x in r[0]]
        rate = statistics.median(r[1] for r in runs)
        rows[mode] = (statistics.median(lat) * 1000, p95(lat) * 1000, rate)
        print(f"  auth {mode:5}  p50 {rows[mode][0]:6.2f} ms  p95 {rows[mode][1]:6.2f} ms  {rate:7.1f} calls/s")
    n, o = rows["none"], rows["oauth"]
    print(f"  oauth / none, pooled: p50 {o[0] / n[0]:.2f}x, p95 {o[1] / n[1]:.2f}x, throughput {n[2] / o[2]:.2f}x")
    # Each round's pair ran back to back, so its ratio cancels the machine's drift between rounds;
    # the median over rounds is the figure that holds still from run to run.
    pairs = list(zip(results["none"], results["oauth"], strict=True))
    for name, stat in (("p50", statistics.median), ("p95", p95)):
        ratios = sorted(stat(b[0]) / stat(a[0]) for a, b in pairs)
        print(
            f"  oauth / none, {name} per round: median {statistics.median(ratios):.2f}x "
            f"(range {ratios[0]:.2f}-{ratios[-1]:.2f}x)"
        )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--calls", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=6)
    a = ap.parse_args()
    anyio.run(main, a.sessions, a.calls, a.rounds)
