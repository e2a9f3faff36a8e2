"""Does a second-stage reranker help? No cross-encoder model can be installed offline from the
registries (rerankers there download their model at first use), so this measures the option the
installed model allows: late interaction (ColBERT-style MaxSim) over all-MiniLM-L6-v2's token
embeddings, on the first 10 passages of the shipped ranking, against that ranking alone, on the
evaluation set; with what it costs a query.

    python bench/rerank_knowledge.py [--depth 10] [--blend 0.5]

``--blend`` mixes the two: 0 keeps the ranking, 1 orders by MaxSim alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from resync_mcp.knowledge.base import KnowledgeBase
from resync_mcp.knowledge.search import Passage

HERE = Path(__file__).resolve().parent


def maxsim(model: Any, query: str, passages: list[Passage]) -> list[float]:
    """Sum over the question's tokens of the best cosine with any token of the passage."""
    import torch

    tokens = model.encode([query, *[p.text for p in passages]], output_value="token_embeddings")
    q = torch.nn.functional.normalize(tokens[0], dim=-1)
    out = []
    for doc in tokens[1:]:
        d = torch.nn.functional.normalize(doc, dim=-1)
        out.append(float((q @ d.T).max(dim=1).values.mean()))
    return out


def score(names: list[str], relevant: set[str]) -> tuple[float, float]:
    firsts = list(dict.fromkeys(names))
    rank = next((n for n, name in enumerate(firsts, start=1) if name in relevant), None)
    return len(relevant & set(names[:5])) / len(relevant), (1 / rank if rank else 0.0)


def main(depth: int, blend: float) -> None:
    questions = [q for q in json.loads((HERE / "eval" / "questions.json").read_text()) if q["relevant"]]
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(Path(tmp) / "kb", starter=False)
        kb.ingest([HERE / "eval" / "corpus"])
        model = kb.embedder.load()
        base: list[tuple[float, float]] = []
        reranked: list[tuple[float, float]] = []
        first_ms: list[float] = []
        extra_ms: list[float] = []
        for item in questions:
            t = time.perf_counter()
            passages = kb.answer(item["q"], limit=depth).passages
            first_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            late = maxsim(model, item["q"], passages) if passages else []
            extra_ms.append((time.perf_counter() - t) * 1000)
            n = len(passages)
            # Blend ranks: position in the shipped ranking against position by MaxSim.
            by_late = {i: r for r, i in enumerate(sorted(range(n), key=lambda i: -late[i]))}
            order = sorted(range(n), key=lambda i: (1 - blend) * i + blend * by_late[i])
            relevant = set(item["relevant"])
            base.append(score([Path(p.source).name for p in passages], relevant))
            reranked.append(score([Path(passages[i].source).name for i in order], relevant))
    for name, got in (("shipped ranking", base), (f"reranked (MaxSim, blend {blend})", reranked)):
        recall = statistics.mean(r for r, _ in got)
        mrr = statistics.mean(m for _, m in got)
        print(f"{name:34s} recall@5 {recall:.3f}  MRR {mrr:.3f}  ({len(got)} questions)")
    print(
        f"cost: search p50 {statistics.median(first_ms):.1f} ms; the reranking adds p50 "
        f"{statistics.median(extra_ms):.1f} ms, p95 {sorted(extra_ms)[int(len(extra_ms) * 0.95)]:.1f} ms "
        f"({depth} passages encoded per question)"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--blend", type=float, default=0.5)
    a = ap.parse_args()
    main(a.depth, a.blend)
