"""Retrieval quality on a question set: recall@k and MRR per search mode (bench and tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from resync_mcp.knowledge.base import KnowledgeBase

MODES = ("hybrid", "vector", "keyword")


@dataclass(frozen=True)
class Quality:
    mode: str
    recall_at_k: float
    mrr: float
    questions: int


def load_set(path: Path) -> list[dict[str, str]]:
    items = json.loads(path.read_text(encoding="utf-8"))
    return [{"q": i["q"], "source": i["source"], "section": i["section"]} for i in items]


def evaluate(kb: KnowledgeBase, items: list[dict[str, str]], *, k: int = 5) -> list[Quality]:
    """A hit is a passage from the expected source whose section path contains the expected section."""
    out = []
    for mode in MODES:
        found, reciprocal = 0, 0.0
        for item in items:
            passages = kb.search(item["q"], limit=k, mode=mode)
            rank = next(
                (
                    n
                    for n, p in enumerate(passages, start=1)
                    if p.source == item["source"] and item["section"].lower() in p.section.lower()
                ),
                None,
            )
            if rank is not None:
                found += 1
                reciprocal += 1 / rank
        out.append(Quality(mode, found / len(items), reciprocal / len(items), len(items)))
    return out
