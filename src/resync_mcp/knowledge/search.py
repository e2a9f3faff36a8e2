"""Ranking: vector, full-text and exact-identifier candidates fused per document. Pure functions.

Each passage scores reciprocal rank fusion over the vector and full-text lists (so neither score
scale has to be calibrated), plus a share for the query's identifiers it holds exactly (weighted
by rarity: ``GL_NIGHT_POST`` counts, ``ABEND`` hardly), times its document's standing (an obsolete
procedure loses to the current one). Documents are ranked by their best passage, and give at most
``per_doc`` passages, so one long runbook does not crowd out the second document a question needs.
Ties are broken by the real scores (similarity, then full-text score), never by file name alone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from resync_mcp.knowledge.status import CURRENT, WEIGHT

RRF_K = 60
MAX_TEXT = 700
ID_WEIGHT = 0.03  # an exact match of every identifier is worth about two first places
PER_DOC = 3
NEAR = 0.8  # a document's next passages count when they score at least this share of its best


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
    status: str = CURRENT
    superseded_by: str | None = None
    similarity: float | None = None  # cosine similarity to the question, when the vector search saw it
    identifiers: tuple[str, ...] = ()  # the question's identifiers this passage holds exactly


@dataclass
class _Candidate:
    row: dict[str, Any]
    rrf: float = 0.0
    similarity: float | None = None
    keyword: float = 0.0  # full-text score relative to the best hit's
    vector_rank: int | None = None
    keyword_rank: int | None = None
    matched: tuple[str, ...] = ()
    score: float = 0.0


def rank(
    vector_hits: list[dict[str, Any]],
    keyword_hits: list[dict[str, Any]],
    ident_hits: list[dict[str, Any]],
    query_ids: list[str],
    idf: dict[str, float],
    *,
    limit: int,
    described: float = 0.0,
    per_doc: int = PER_DOC,
) -> list[Passage]:
    """``described``: the rarity-weighted mass of the question's other words. Identifiers decide a
    question that is mostly identifiers, and are one signal among others in one that describes a
    failure in words (``GL_NIGHT_POST`` is in every runbook about that job, whatever its failure)."""
    found: dict[str, _Candidate] = {}
    best_keyword = max((float(r.get("_score") or 0.0) for r in keyword_hits), default=0.0) or 1.0
    for name, hits in (("vector", vector_hits), ("keyword", keyword_hits)):
        seen: set[str] = set()
        for row in hits:
            key = row["content_hash"]
            if key in seen:
                continue
            seen.add(key)
            c = found.setdefault(key, _Candidate(row))
            c.rrf += 1.0 / (RRF_K + len(seen))
            if name == "vector":
                c.vector_rank = len(seen)
                c.similarity = 1.0 - float(row.get("_distance") or 0.0)
            else:
                c.keyword_rank = len(seen)
                c.keyword = float(row.get("_score") or 0.0) / best_keyword
    for row in ident_hits:
        found.setdefault(row["content_hash"], _Candidate(row))
    wanted = sum(idf.get(i, _UNSEEN) for i in query_ids) + described
    for c in found.values():
        held = set(str(c.row.get("idents") or "").split())
        c.matched = tuple(i for i in query_ids if i in held)
        share = sum(idf.get(i, _UNSEEN) for i in c.matched) / wanted if wanted else 0.0
        c.score = (c.rrf + ID_WEIGHT * share) * WEIGHT.get(str(c.row.get("status") or CURRENT), 1.0)
    return _per_document(list(found.values()), limit, per_doc)


_UNSEEN = 8.0  # the weight of a question's identifier no document holds (rarer than any that is held)


def _order(c: _Candidate) -> tuple[float, float, float, str, int]:
    return (-c.score, -(c.similarity or 0.0), -c.keyword, str(c.row["source"]), int(c.row["ordinal"]))


def _per_document(candidates: list[_Candidate], limit: int, per_doc: int) -> list[Passage]:
    """The first document's passages (at most ``per_doc``, those scoring near its best), then
    each other document's best passage, in the order of those; then, while room is left, their
    next passages. The answer's document shows its relevant sections together, and one long
    runbook does not push the second document a question needs out of the first results."""
    by_doc: dict[str, list[_Candidate]] = defaultdict(list)
    for c in sorted(candidates, key=_order):
        by_doc[str(c.row["doc_id"])].append(c)
    groups = [[c for c in group[:per_doc] if c.score >= NEAR * group[0].score] for group in by_doc.values()]
    if not groups:
        return []
    ordered = groups[0] + [g[0] for g in groups[1:]] + [c for g in groups[1:] for c in g[1:]]
    return [_passage(c) for c in ordered[:limit]]


def _passage(c: _Candidate) -> Passage:
    r = c.row
    text = r["text"] if len(r["text"]) <= MAX_TEXT else r["text"][:MAX_TEXT] + "…"
    return Passage(
        r["doc_id"],
        r["source"],
        r["title"],
        r["section"],
        text,
        round(c.score, 5),
        c.vector_rank,
        c.keyword_rank,
        r.get("kind") or "doc",
        r.get("status") or CURRENT,
        r.get("superseded_by") or None,
        None if c.similarity is None else round(c.similarity, 4),
        c.matched,
    )
