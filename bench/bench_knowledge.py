"""Knowledge figures: cold model load, ingest rate, warm query latency on 10,000 chunks, and
retrieval quality (recall@5, MRR) of hybrid, vector-only and keyword-only search.

    python bench/bench_knowledge.py [--chunks 10000] [--queries 200]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from resync_mcp.knowledge.base import KnowledgeBase
from resync_mcp.knowledge.evaluate import evaluate, load_set

ROOT = Path(__file__).resolve().parents[1]
TEXT = """agent workstation fence limit prompt reply resource quantity dependency predecessor successor rerun
confirm cancel hold release deadline critical late carry forward ledger payroll stock price sftp
database deadlock memory timeout certificate tape backup archive purge report extract load merge"""
WORDS = TEXT.split()


def corpus(root: Path, chunks: int, rng: random.Random) -> Path:
    """Markdown files of 10 sections each, one chunk per section."""
    docs = root / "corpus"
    docs.mkdir()
    for d in range(chunks // 10):
        parts = [f"# Runbook {d}"]
        for s in range(10):
            body = " ".join(rng.choice(WORDS) for _ in range(45))
            parts.append(f"## Section {s}\n\n{body.capitalize()}.")
        (docs / f"doc{d:05d}.md").write_text("\n\n".join(parts))
    return docs


def cold_load() -> float:
    code = (
        "import time; t=time.perf_counter()\n"
        "from resync_mcp.knowledge.base import Embedder\n"
        "Embedder().load(); print(time.perf_counter()-t)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * q))]


def main(chunks: int, queries: int) -> None:
    print(f"cold start (imports + model load, fresh process): {cold_load():.1f} s")
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(Path(tmp) / "kb", starter=False)
        kb.embedder.load()
        docs = corpus(Path(tmp), chunks, rng)
        t = time.perf_counter()
        report = kb.ingest([docs])
        elapsed = time.perf_counter() - t
        rate = report.added / elapsed
        print(f"ingest: {report.added:,} chunks from {report.files:,} files in {elapsed:.1f} s = {rate:,.0f} chunks/s")
        seen: set[str] = set()

        def fresh_queries() -> list[str]:
            """Questions never asked before in this run: each one's embedding is part of its time."""
            out: list[str] = []
            while len(out) < queries:
                q = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))
                if q not in seen:
                    seen.add(q)
                    out.append(q)
            return out

        t = time.perf_counter()
        kb.search(fresh_queries()[0])
        first = (time.perf_counter() - t) * 1000
        print(f"first search after the ingest (reads the {report.added:,} chunks into memory): {first:.0f} ms")
        for mode in ("hybrid", "vector", "keyword"):
            kb.search(fresh_queries()[0], mode=mode)  # the mode's first call (tables opened)
            lat = []
            for q in fresh_queries():
                t = time.perf_counter()
                kb.search(q, limit=8, mode=mode)
                lat.append((time.perf_counter() - t) * 1000)
            p50, p95 = statistics.median(lat), pct(lat, 0.95)
            what = "" if mode == "keyword" else ", the query's embedding included"
            print(f"query ({mode}, warm, {report.added:,} chunks{what}): p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        embed = []
        for q in fresh_queries():
            t = time.perf_counter()
            kb.embedder.query(q)
            embed.append((time.perf_counter() - t) * 1000)
        print(
            f"  of which embedding one new query: p50 {statistics.median(embed):.1f} ms, p95 {pct(embed, 0.95):.1f} ms"
        )
    with tempfile.TemporaryDirectory() as tmp:
        docs = corpus(Path(tmp), 600, rng)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RESYNC_", "XDG_"))}
        env |= {"HOME": tmp, "RESYNC_KNOWLEDGE__DIR": str(Path(tmp) / "cli-kb")}
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "resync_mcp", "kb", "ingest", str(docs)], env=env, check=True, capture_output=True
        )
        took = time.perf_counter() - t
        print(
            f"`resync-mcp kb ingest` of 600 chunks, a fresh process (start, model load, shipped runbooks): "
            f"{took:.1f} s = {600 / took:.0f} chunks/s"
        )
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(Path(tmp) / "kb").ready()
        items = load_set(ROOT / "tests" / "knowledge" / "retrieval_set.json")
        print(f"retrieval quality on {len(items)} questions over the shipped runbooks and reference:")
        for q in evaluate(kb, items):
            print(f"  {q.mode:<8} recall@5 {q.recall_at_k:.2f}  MRR {q.mrr:.3f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=200)
    a = ap.parse_args()
    main(a.chunks, a.queries)
