"""Fusing vector and keyword results: reciprocal rank fusion, a pure function.

RRF scores each passage by sum(1 / (k + rank)) over the lists it appears in, so a passage that
both the meaning and the words agree on rises, and neither score scale has to be calibrated.
Identical texts (same content hash, e.g. one section copied into two documents) appear once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RRF_K = 60
MAX_TEXT = 700


@dataclass(frozen=True)
class Passage:
    doc_id: str
    source: str
    title: str
    section: str
    text: str
    score: float
    vector_rank: int | None
    keyword_rank: int | None
    kind: str


def fuse(vector_hits: list[dict[str, Any]], keyword_hits: list[dict[str, Any]], *, limit: int) -> list[Passage]:
    scores: dict[str, float] = {}
    rows: dict[str, dict[str, Any]] = {}
    ranks: dict[str, dict[str, int]] = {}
    for name, hits in (("vector", vector_hits), ("keyword", keyword_hits)):
        seen: set[str] = set()
        for row in hits:
            key = row["content_hash"]
            if key in seen:
                continue
            seen.add(key)
            rank = len(seen)
            scores[key] = scores.get(key, 0.0) + 1.0 / (RRF_K + rank)
            rows.setdefault(key, row)
            ranks.setdefault(key, {})[name] = rank
    ordered = sorted(scores, key=lambda k: (-scores[k], rows[k]["source"], rows[k]["ordinal"]))[:limit]
    out = []
    for key in ordered:
        r = rows[key]
        text = r["text"] if len(r["text"]) <= MAX_TEXT else r["text"][:MAX_TEXT] + "…"
        out.append(
            Passage(
                r["doc_id"],
                r["source"],
                r["title"],
                r["section"],
                text,
                round(scores[key], 5),
                ranks[key].get("vector"),
                ranks[key].get("keyword"),
                r.get("kind", "doc"),
            )
        )
    return out
