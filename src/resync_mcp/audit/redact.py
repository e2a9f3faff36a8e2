"""Secrets never reach the audit payload: pure redaction of tool arguments."""

from __future__ import annotations

import re
from typing import Any

_SECRET_KEY = re.compile(r"(pass(word)?|secret|token|authorization|api[_-]?key|credential|private[_-]?key)", re.I)
# Secrets that turn up inside free text (an ad hoc command, a reason): bearer and basic
# credentials, JWTs, key=value pairs, a password glued to -p (mysql, sqlplus and friends),
# and URLs with user:password.
_SECRET_VALUE = re.compile(
    r"(?i)\b(?:bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
)
_SECRET_PAIR = re.compile(
    r"(?i)\b((?:pass(?:word|wd)?|pwd|token|secret|api[_-]?key|access[_-]?key)\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s&;,]+)"
)
_DASH_P = re.compile(r"(?<![\w-])(-p)(?=[^\s-])\S+")  # -pSecret; "-p 3306" (a separate word) is left alone
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/:@]+:)[^\s/@]+@")
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
        text = redact_text(value[:MAX_TEXT])  # bounded first: a hostile megabyte is not scanned
        return text if len(value) <= MAX_TEXT else text + f"…[+{len(value) - MAX_TEXT} chars]"
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:MAX_TEXT]


# Every secret pattern above needs one of these (a space before a bearer value, "eyJ" of a JWT,
# "=" or ":" of a pair or a URL, "-p"): text without any, like an id or a name, has nothing to
# redact and skips the four substitutions (every tool call's arguments and log line go through).
_MAYBE_SECRET = re.compile(r"[\s=:@]|eyJ|-p")


def redact_text(text: str) -> str:
    if not _MAYBE_SECRET.search(text):
        return text
    return _redact_all(text)


def _redact_all(text: str) -> str:
    text = _SECRET_VALUE.sub(REDACTED, text)
    text = _SECRET_PAIR.sub(lambda m: m.group(1) + REDACTED, text)
    text = _URL_USERINFO.sub(lambda m: m.group(1) + REDACTED + "@", text)
    return _DASH_P.sub(lambda m: m.group(1) + REDACTED, text)
