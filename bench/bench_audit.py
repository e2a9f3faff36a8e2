"""Audit chain figures: group-commit append throughput, durable (fsync'd) intent latency,
verification rate, and the audit stage's share of a cached tool call.

    python bench/bench_audit.py [--records 20000] [--durable 1000] [--verify 100000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import anyio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mcp import Client, types

from resync_mcp import logs
from resync_mcp.app import build_app
from resync_mcp.audit.store import AuditStore
from resync_mcp.audit.verify import verify
from resync_mcp.clock import SystemClock
from resync_mcp.config import load_settings

PAYLOAD = {
    "principal": "local-operator",
    "client": {"name": "bench", "version": "1"},
    "transport": "local",
    "engine": "demo",
    "tool": "get_job",
    "arguments": {"job": "6d19eaf1-c9da-3799-96ed-131f07832a01"},
    "outcome": "ok",
    "hwa_requests": 1,
    "served_from_cache": 0,
    "latency_ms": 1.23,
    "correlation_id": "0123456789ab",
}


def store_in(directory: Path, **kw: int) -> AuditStore:
    return AuditStore(directory / "audit.db", os.urandom(32), Ed25519PrivateKey.generate(), SystemClock(), **kw).open()


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * q))]


async def tool_share(calls: int) -> tuple[float, float]:
    """p50 of a cached get_job (raw tools/call) with the audit on and off, in the same run."""
    out = []
    for enabled in (True, False):
        with tempfile.TemporaryDirectory() as tmp:
            settings = load_settings(
                None, {"demo": {"enabled": True, "jobs": 2000, "seed": 42}, "audit": {"enabled": enabled, "dir": tmp}}
            )
            app = build_app(settings)
            sim = app.simulators["demo"]
            sim.state()
            job = next(j for j in sim.plan.jobs if j.status == "SUCC").id
            req = types.CallToolRequest(params=types.CallToolRequestParams(name="get_job", arguments={"job": job}))
            lat = []
            async with Client(app.server) as c:
                for _ in range(50):
                    await c.session.send_request(req, types.CallToolResult)
                for _ in range(calls):
                    t = time.perf_counter()
                    await c.session.send_request(req, types.CallToolResult)
                    lat.append((time.perf_counter() - t) * 1000)
            await app.aclose()
            out.append(statistics.median(lat))
    return out[0], out[1]


def main(records: int, durable: int, n_verify: int) -> None:
    logs.configure("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        store = store_in(Path(tmp), group_max=256, checkpoint_every=10_000)
        t = time.perf_counter()
        for _ in range(records):
            store.append("call", "local-operator", PAYLOAD, durable=False)
        store.flush()
        rate = records / (time.perf_counter() - t)
        lat = []
        for _ in range(durable):
            t = time.perf_counter()
            store.append("intent", "local-operator", PAYLOAD, durable=True)
            lat.append((time.perf_counter() - t) * 1000)
        store.close()
    print(f"append, group commit (256 per fsync): {rate:,.0f} records/s over {records:,} records (target >= 2,000)")
    print(
        f"durable intent (fsync each): p50 {statistics.median(lat):.2f} ms, p99 {pct(lat, 0.99):.2f} ms "
        f"over {durable:,} (target p99 <= 10 ms)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = store_in(Path(tmp), group_max=2048, checkpoint_every=10_000)
        for _ in range(n_verify):
            store.append("call", "local-operator", PAYLOAD, durable=False)
        store.close()
        t = time.perf_counter()
        report = verify(store.path, trusted={store.public_key})
        elapsed = time.perf_counter() - t
        assert report.ok and report.records == n_verify, report.summary()
    print(f"verify: {n_verify:,} records in {elapsed:.2f} s = {n_verify / elapsed:,.0f} records/s (target >= 50,000)")
    on, off = anyio.run(tool_share, 300)
    print(
        f"cached get_job p50: {on:.3f} ms with the audit, {off:.3f} ms without: "
        f"the audit stage is {max(0.0, on - off) / on * 100:.0f}% of the call"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--durable", type=int, default=1_000)
    ap.add_argument("--verify", type=int, default=100_000)
    a = ap.parse_args()
    main(a.records, a.durable, a.verify)
