"""Secrets never reach the audit payload: pure redaction of tool arguments."""

from __future__ import annotations

import re
from typing import Any

_SECRET_KEY = re.compile(r"(pass(word)?|secret|token|authorization|api[_-]?key|credential|private[_-]?key)", re.I)
# Bearer values and JWTs that turn up inside free text.
_SECRET_VALUE = re.compile(
    r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
)
MAX_TEXT = 2000
REDACTED = "[redacted]"


def redact(value: Any, *, depth: int = 0) -> Any:
    """A copy of ``value`` with secret-named keys and secret-looking text replaced, bounded in size."""
    if depth > 6:
        return "[too deep]"
    if isinstance(value, dict):
        return {
            str(k): (REDACTED if _SECRET_KEY.search(str(k)) and v is not None else redact(v, depth=depth + 1))
            for k, v in list(value.items())[:100]
        }
    if isinstance(value, list | tuple):
        return [redact(v, depth=depth + 1) for v in list(value)[:100]]
    if isinstance(value, str):
        text = _SECRET_VALUE.sub(REDACTED, value)
        return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + f"…[+{len(text) - MAX_TEXT} chars]"
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:MAX_TEXT]
