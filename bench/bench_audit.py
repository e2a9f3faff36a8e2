"""Audit chain figures: group-commit append throughput (one process, and two processes on one
file as Claude Desktop and an IDE would share it), durable (fsync'd) intent latency,
verification rate (hashes only, and with every ciphertext opened as the CLI does with the KEK),
and the audit stage's share of a cached tool call.

    python bench/bench_audit.py [--records 20000] [--durable 1000] [--verify 100000]
"""

from __future__ import annotations

import argparse
import multiprocessing
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


def _writer(path: str, kek: bytes, pem: bytes, records: int, start: multiprocessing.synchronize.Event) -> None:
    from cryptography.hazmat.primitives import serialization

    signer = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(signer, Ed25519PrivateKey)
    store = AuditStore(Path(path), kek, signer, SystemClock(), group_max=256, checkpoint_every=10_000).open()
    start.wait()
    for _ in range(records):
        store.append("call", f"pid-{os.getpid()}", PAYLOAD, durable=False)
    store.close()


def two_processes(directory: Path, records: int) -> float:
    """Records/s of two processes appending to one chain at once (each ``records``)."""
    from cryptography.hazmat.primitives import serialization

    signer = Ed25519PrivateKey.generate()
    pem = signer.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    kek, path = os.urandom(32), directory / "audit.db"
    AuditStore(path, kek, signer, SystemClock()).open().close()  # schema first
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(str(path), kek, pem, records, start)) for _ in range(2)]
    for p in procs:
        p.start()
    time.sleep(1.0)  # both have opened the store (spawn start-up), so only appending is timed
    t = time.perf_counter()
    start.set()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t
    report = verify(path, trusted={AuditStore(path, kek, signer, SystemClock()).public_key})
    assert report.ok and report.records == 2 * records, report.summary()
    return 2 * records / elapsed


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
    with tempfile.TemporaryDirectory() as tmp:
        both = two_processes(Path(tmp), records)
    print(f"append, two processes on one chain: {both:,.0f} records/s together over {2 * records:,} records, verified")
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
        reader = AuditStore(store.path, store._kek, store._signer, SystemClock()).open(readonly=True)
        t = time.perf_counter()
        report = verify(store.path, trusted={store.public_key}, opens=reader.opens)
        opened = time.perf_counter() - t
        reader.close()
        assert report.ok, report.summary()
    print(f"verify: {n_verify:,} records in {elapsed:.2f} s = {n_verify / elapsed:,.0f} records/s (target >= 50,000)")
    print(f"verify, every ciphertext opened (the CLI with the KEK): {n_verify / opened:,.0f} records/s")
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
