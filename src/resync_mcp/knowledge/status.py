"""A document's standing: current, obsolete (withdrawn or superseded), historical (a post-incident
review, old notes) or draft. From front matter first, then from markers in the title and opening
text that house styles use ("OBSOLETE", "superseded by", "DRAFT:", "Historical:"). Pure.

Such documents stay searchable (an operator may need the history) but rank below current ones,
and every result says what they are, so a model never presents them as the procedure.
"""

from __future__ import annotations

import re

CURRENT = "current"
# How much a document's score is kept, by status: an obsolete procedure must lose to the
# current one about the same failure, and still win over documents about something else.
WEIGHT = {CURRENT: 1.0, "draft": 0.75, "historical": 0.7, "obsolete": 0.6}
_META = {
    "obsolete": "obsolete",
    "superseded": "obsolete",
    "deprecated": "obsolete",
    "withdrawn": "obsolete",
    "retired": "obsolete",
    "historical": "historical",
    "history": "historical",
    "archived": "historical",
    "archive": "historical",
    "draft": "draft",
    "proposed": "draft",
    "current": CURRENT,
    "active": CURRENT,
    "approved": CURRENT,
}
_OBSOLETE = re.compile(r"\bOBSOLETE\b|\b(?:superseded|replaced) by\b|\b(?:withdrawn|deprecated)\b", re.I)
_OBSOLETE_UPPER = re.compile(r"\b(?:OBSOLETE|DEPRECATED|WITHDRAWN|RETIRED|SUPERSEDED|DO NOT USE)\b")
_SUPERSEDED_BY = re.compile(r"\bsuperseded by:?\s+`?([\w./#-]+\w)", re.I)
_DRAFT = re.compile(r"^\s*\**DRAFT\b|\(draft\)|\bdraft\b\s*[:\-]", re.I | re.M)
_HISTORICAL = re.compile(
    r"^\s*\**historical\b|\bpost[- ]incident review\b|\bincident (?:review|report)\b|\bPIR\b|\bretrospective\b|"
    r"\bpost[- ]?mortem\b|\blessons learned\b|\broot cause analysis\b",
    re.I | re.M,
)


def status_of(meta: dict[str, str | list[str]], title: str, body: str) -> tuple[str, str | None]:
    """(status, superseded_by) of a document."""
    superseded = meta.get("superseded_by")
    successor = str(superseded) if superseded else None
    declared = str(meta.get("status") or "").strip().lower()
    if declared in _META:
        return _META[declared], successor
    if successor:
        return "obsolete", successor
    head = f"{title}\n{body[:600]}"
    if _OBSOLETE_UPPER.search(head) or _OBSOLETE.search(title) or _SUPERSEDED_BY.search(head):
        m = _SUPERSEDED_BY.search(head)
        return "obsolete", m.group(1) if m else None
    if _DRAFT.search(title) or _DRAFT.search(body[:300]):
        return "draft", None
    if _HISTORICAL.search(title) or re.match(r"\s*\**historical\b", body[:300].split("\n#", 1)[0], re.I):
        return "historical", None
    return CURRENT, None


def label(status: str, superseded_by: str | None) -> str | None:
    """What a result says about a document that is not the current procedure."""
    if status == "obsolete":
        successor = f" by {superseded_by}" if superseded_by else ""
        return f"OBSOLETE (superseded{successor}): history only, not the procedure to follow"
    if status == "historical":
        return "HISTORICAL record: what was done or decided then, not the current procedure"
    if status == "draft":
        return "DRAFT: not approved, not the procedure to follow"
    return None
