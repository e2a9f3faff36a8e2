"""Pure input guards and OQL building. User text never reaches OQL unchecked.

HWA object names are letters, digits, ``_`` and ``-`` (folders add ``/``), so a pattern
that holds anything else (a quote, a space, a control character, non-ASCII) cannot name a
plan object and is refused before any query is built: that is the OQL-injection guard.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass

from resync_mcp.errors import InvalidArgument

COMMON_STATUSES = (
    "WAITING",
    "READY",
    "RUNNING",
    "SUCCESSFUL",
    "ERROR",
    "CANCELED",
    "HELD",
    "UNDECIDED",
    "BLOCKED",
    "SUPPRESS",
    "WAITING_FOR_TRIGGER",
    "READY_PREV_WS_NONREP",
    "COMPLETED",
    "SUPPRESS_BY_COND",
    "INTERRUPTED",
    "DUMMY_COMPLETED",
    "CANCEL_PENDING",
)
INTERNAL_STATUSES = (
    "HOLD",
    "READY",
    "FENCE",
    "INTRO",
    "FAIL",
    "EXEC",
    "WAIT",
    "SUPPR",
    "END",
    "SUCC",
    "SUCCP",
    "ABEND",
    "CANCL",
    "CANCLP",
    "ABENP",
    "PEND",
    "SUSP",
    "STUCK",
    "EXTRN",
    "INTRPT",
    "COMPLT",
    "BOUND",
    "ERROR",
    "PENDPRED",
    "STARTED",
    "UNDCDED",
    "ARRVING",
    "NONREPPRED",
)
STREAM_INTERNAL_STATUSES = (
    "READY",
    "HOLD",
    "EXEC",
    "ABEND",
    "CANCL",
    "CANCLP",
    "SUCC",
    "UNKNOWN",
    "ADD",
    "FAIL",
    "WAIT",
    "INTRO",
    "ABENP",
    "SUCCP",
    "SUSP",
    "STUCK",
    "PEND",
    "BOUND",
    "SUPPR",
    "EXTRN",
    "COMPLETE",
    "DELETED",
    "ERROR",
)
_NAME = re.compile(r"^[A-Za-z0-9_@*\-]{1,40}$")
_FOLDER = re.compile(r"^/([A-Za-z0-9_@*\-]{1,40}/){0,10}$")


def name_pattern(value: str | None, what: str) -> str | None:
    """Normalize a name pattern (``*`` or ``@`` wildcards) to HWA's uppercase ``@`` form.

    Raises:
        InvalidArgument: for characters no HWA name can contain.
    """
    if value is None or value == "":
        return None
    v = value.strip()
    if v.startswith("/") and what == "workstation":
        v = v[1:]
    if not _NAME.match(v):
        raise InvalidArgument(
            f"The {what} pattern {_show(value)} is not valid.",
            hint="Use up to 40 letters, digits, '_' or '-', with '*' or '@' as the wildcard.",
        )
    return v.replace("*", "@").upper()


def folder_pattern(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    v = value.strip()
    v = v if v.startswith("/") else "/" + v
    v = v if v.endswith("/") else v + "/"
    if not _FOLDER.match(v):
        raise InvalidArgument(
            f"The folder {_show(value)} is not valid.", hint="Use a path such as /FINANCE/ or /FINANCE/GL/."
        )
    return v.replace("*", "@").upper()


def _show(value: str) -> str:
    return repr(value[:40] + ("…" if len(value) > 40 else "")).encode("ascii", "backslashreplace").decode()


def _q(value: str) -> str:
    # Values are pre-validated to contain no quote; doubling is defence in depth.
    return "'" + value.replace("'", "''") + "'"


def match(field: str, pattern: str) -> str:
    return f"{field} LIKE {_q(pattern)}" if "@" in pattern else f"{field} = {_q(pattern)}"


def status_terms(
    statuses: list[str] | None,
    *,
    internal_field: str,
    common_field: str,
    internal_values: tuple[str, ...] = INTERNAL_STATUSES,
) -> str | None:
    """OQL for a list of statuses, each either common (ERROR) or internal (ABEND).

    Raises:
        InvalidArgument: naming the unknown status and the valid ones.
    """
    if not statuses:
        return None
    common, internal = [], []
    for raw in statuses:
        s = raw.strip().upper()
        # Common first: ERROR and READY exist in both vocabularies, and an operator asking
        # for ERROR means every failed job (ABEND and FAIL), which is the common status.
        if s in COMMON_STATUSES:
            common.append(s)
        elif s in internal_values:
            internal.append(s)
        else:
            raise InvalidArgument(
                f"Unknown status {_show(raw)}.",
                hint=f"Use a common status ({', '.join(COMMON_STATUSES[:10])}) or an internal one "
                f"({', '.join(internal_values[:14])}, ...).",
            )
    terms = []
    if internal:
        terms.append(f"{internal_field} IN [{', '.join(_q(s) for s in dict.fromkeys(internal))}]")
    if common:
        terms.append(f"{common_field} IN [{', '.join(_q(s) for s in dict.fromkeys(common))}]")
    return terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"


def conjunction(terms: list[str | None]) -> str | None:
    present = [t for t in terms if t]
    return " AND ".join(present) if present else None


_SORTS = {
    "name": "name",
    "job_stream": "jobStreamName",
    "sched_time": "schedTime",
    "priority": "priority",
    "workstation": "workstation",
    "status": "lastRunCompositeStatus.status",
}


def order_by(sort: str | None, allowed: dict[str, str] = _SORTS) -> str | None:
    if not sort:
        return None
    desc = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in allowed:
        raise InvalidArgument(
            f"Cannot sort by {_show(sort)}.", hint=f"Use one of {', '.join(allowed)} (prefix - for descending)."
        )
    return f"ORDER BY {allowed[key]} {'DESC' if desc else 'ASC'}"


# --------------------------------------------------------------------------- cursors
@dataclass(frozen=True)
class Cursor:
    offset: int
    query: str

    def encode(self) -> str:
        raw = json.dumps({"o": self.offset, "q": _digest(self.query)}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _digest(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:16]


def decode_cursor(cursor: str | None, query: str) -> int:
    """The offset a cursor points at, checked against the query it was issued for.

    Raises:
        InvalidArgument: for a malformed cursor or one from a different query.
    """
    if not cursor:
        return 0
    try:
        if len(cursor) > 200:
            raise ValueError
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = int(data["o"])
        digest = str(data["q"])
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument(
            "The cursor is not valid.", hint="Use next_cursor exactly as returned, or omit it."
        ) from None
    if digest != _digest(query) or not 0 <= offset <= 10**7:
        raise InvalidArgument(
            "The cursor belongs to a different query.", hint="Repeat the same filters with the cursor, or drop it."
        )
    return offset


def iso_instant(value: str | None, what: str) -> str | None:
    """Validate an ISO-8601 UTC instant (``2026-11-24T06:00:00Z``)."""
    if value is None or value == "":
        return None
    from datetime import UTC, datetime

    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(f"{what} {_show(value)} is not an ISO-8601 time such as 2026-11-24T06:00:00Z.") from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
