"""How far a search's answer can be trusted, and when to say that nothing answers it. Pure.

The bands come from features of the first document: its best cosine similarity to the question,
whether the vector and full-text searches agree on it, whether it holds the question's
identifiers, whether the question names a code or job that no document mentions at all, and its
standing (obsolete, historical, draft). The thresholds were fitted on bench/eval (a fictional
bank's runbooks with hard negatives); the README gives each band's measured precision there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from resync_mcp.knowledge.idents import ERROR_CODE, is_specific
from resync_mcp.knowledge.search import Passage
from resync_mcp.knowledge.status import CURRENT

# Cosine similarity of all-MiniLM-L6-v2 between a question and its passage, and the share of the
# question's content words the first document uses (rarity-weighted): fitted on bench/eval.
HIGH_SIMILARITY = 0.62
MEDIUM_SIMILARITY = 0.50
NO_MATCH_SIMILARITY = 0.42  # below this nothing answers the question, whatever else matches
WEAK_SIMILARITY = 0.52  # below this, a document that covers little of the question does not answer it
WEAK_COVERAGE = 0.32
SAY: dict[str, str] = {
    "high": "The first passage answers this question: present it as the documented procedure and cite its source.",
    "medium": "The first passage is probably relevant: check that its section fits the situation before presenting it.",
    "low": "Only weak matches: do not present them as the procedure; offer them as leads and say so.",
}
NO_MATCH = "No runbook covers this; the passages, if any, are weak leads, not a documented procedure."


Band = Literal["high", "medium", "low"]


@dataclass(frozen=True)
class Answer:
    passages: list[Passage]
    confidence: Band
    no_match: bool
    assessment: str  # one sentence on what the model may assert
    missing: tuple[str, ...] = ()  # the question's codes and names that no document mentions


def assess(
    passages: list[Passage],
    query_ids: list[str],
    known: set[str] | frozenset[str],
    *,
    coverage: float,
    asked: set[str],
) -> Answer:
    """``known``: every identifier some document holds; ``coverage``: how much of the question the
    first document's words cover; ``asked``: the question's content words outside its identifiers
    (idents.words_outside; knowledge/base.py works them out once per question)."""
    missing = tuple(i for i in query_ids if i not in known and is_specific(i))
    if not passages:
        return Answer([], "low", True, NO_MATCH, missing)
    top = passages[0]
    same_doc = [p for p in passages if p.doc_id == top.doc_id]
    similarity = max((p.similarity or 0.0) for p in same_doc)
    held = {i for p in same_doc for i in p.identifiers}
    present = [i for i in query_ids if i in known]
    all_ids = bool(present) and all(i in held for i in present)
    # A question that is mostly names and codes is answered by the document holding them; one that
    # describes a failure in words also needs the meaning to match.
    described = len(asked) >= 3
    agree = any(p.vector_rank is not None and p.vector_rank <= 3 for p in same_doc) and any(
        p.keyword_rank is not None and p.keyword_rank <= 3 for p in same_doc
    )
    missing_code = any(ERROR_CODE.match(i) and not i.startswith("RC=") for i in missing)
    held_code = any(ERROR_CODE.match(i) for i in held)  # the document is about the very code asked
    if (
        missing_code  # the failure is named by a code no document mentions
        or (similarity < NO_MATCH_SIMILARITY and not held)
        or (similarity < WEAK_SIMILARITY and coverage < WEAK_COVERAGE and not held_code)
    ):
        return Answer(passages, "low", True, NO_MATCH, missing)
    band: Band
    if (all_ids and (not described or similarity >= MEDIUM_SIMILARITY)) or (similarity >= HIGH_SIMILARITY and agree):
        band = "high"
    elif similarity >= MEDIUM_SIMILARITY or held:
        band = "medium"
    else:
        band = "low"
    if top.status != CURRENT and band == "high":
        band = "medium"  # the best match is not a current procedure: never "present it as the procedure"
    return Answer(passages, band, False, SAY[band], missing)
