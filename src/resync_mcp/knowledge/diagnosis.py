"""What diagnose_job asks the knowledge base, and which runbook it cites. Pure functions, shared
by the service and bench/eval_knowledge.py (which scores them on incidents).

The question joins the first error line (without its time stamp), the return code (``RC=127``,
an identifier the message reference holds) and what it means, and the job, job stream and
workstation names: a runbook about this job and this failure then
matches on every count, one about the same job with another failure only on the names.
"""

from __future__ import annotations

import re
from dataclasses import replace

from resync_mcp.knowledge.confidence import Answer
from resync_mcp.knowledge.search import Passage

_STAMP = re.compile(
    r"^\s*(?:\[?(?:\d{4}-\d{2}-\d{2}[T ])?\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?\]?\s*)?"
    r"(?:\[?(?:ERROR|INFO|WARN(?:ING)?|SEVERE|FATAL|DEBUG)\]?:?\s*)?",
    re.I,
)
LINKED_BONUS = 1.15  # a runbook written for this job or stream wins a near tie


def diagnosis_query(
    first_error: str | None,
    return_code: int | None,
    return_code_meaning: str | None,
    job: str,
    stream: str | None,
    workstation: str | None,
) -> str:
    code = f"RC={return_code}" if return_code not in (None, 0) else ""
    parts = [_STAMP.sub("", first_error or "").strip()[:300], code, return_code_meaning or "", job, stream or ""]
    if workstation:
        parts.append(workstation)
    return " ".join(p for p in parts if p)


def cite(answer: Answer, linked: set[str]) -> Answer:
    """The answer with the documents linked to the job (by their name patterns) first among near
    equals: their passages' scores count ``LINKED_BONUS`` times. As in every answer, each
    document's best passage comes first, in document order, then the second ones."""
    if not linked or not answer.passages:
        return answer
    scored = [
        replace(p, score=round(p.score * (LINKED_BONUS if p.doc_id in linked else 1.0), 5)) for p in answer.passages
    ]
    best: dict[str, float] = {}
    for p in scored:
        best[p.doc_id] = max(best.get(p.doc_id, 0.0), p.score)
    docs = sorted(best, key=lambda d: -best[d])  # stable: equal documents keep their order
    seen: set[str] = set()
    firsts: list[Passage] = []
    seconds: list[Passage] = []
    for p in scored:
        (seconds if p.doc_id in seen else firsts).append(p)
        seen.add(p.doc_id)
    rank = {d: n for n, d in enumerate(docs)}
    ordered = sorted(firsts, key=lambda p: rank[p.doc_id]) + sorted(seconds, key=lambda p: rank[p.doc_id])
    return replace(answer, passages=ordered)
