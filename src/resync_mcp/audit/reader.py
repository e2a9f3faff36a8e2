"""Reading the chain back: decrypt (with the KEK), filter, and render safely.

Rendering escapes every control and bidi character, so a job name carrying a newline or a
terminal escape sequence cannot forge an extra line or repaint the screen.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from resync_mcp.audit.crypto import KeyUnavailable, open_sealed
from resync_mcp.audit.store import AuditStore

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def escape(text: str) -> str:
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


@dataclass(frozen=True)
class Filter:
    since: str | None = None  # ISO time, inclusive
    until: str | None = None
    principal: str | None = None
    tool: str | None = None
    outcome: str | None = None

    def keeps(self, ts: str, payload: dict[str, Any] | None) -> bool:
        if self.since and ts < self.since:
            return False
        if self.until and ts > self.until:
            return False
        wanted = {"principal": self.principal, "tool": self.tool, "outcome": self.outcome}
        if any(v is not None for v in wanted.values()) and payload is None:
            return False
        return all(v is None or (payload or {}).get(k) == v for k, v in wanted.items())


def entries(
    store: AuditStore, flt: Filter, *, newest_first: bool = False, limit: int | None = None
) -> Iterator[dict[str, Any]]:
    """Decrypted records matching ``flt``; shredded ones appear as ``{"shredded": true}``."""
    assert store._db is not None
    store.flush()
    order = "DESC" if newest_first else "ASC"
    cur = store._db.execute(f"SELECT seq, ts, kind, key_id, nonce, ct FROM records ORDER BY seq {order}")  # noqa: S608
    n = 0
    for seq, ts, kind, key_id, nonce, ct in cur:
        payload: dict[str, Any] | None
        try:
            payload = json.loads(open_sealed(store.key_for(key_id), seq, key_id, nonce, ct, f"{kind}|{ts}"))
        except (KeyUnavailable, ValueError, sqlite3.Error):
            payload = None
        if not flt.keeps(ts, payload):
            continue
        yield {"seq": seq, "ts": ts, "kind": kind, **(payload if payload is not None else {"shredded": True})}
        n += 1
        if limit is not None and n >= limit:
            return


def render_line(entry: dict[str, Any]) -> str:
    """One terminal-safe line per record."""
    fields = " ".join(
        f"{k}={escape(json.dumps(v, ensure_ascii=False, sort_keys=True))}"
        for k, v in entry.items()
        if k not in ("seq", "ts", "kind")
    )
    return f"{entry['seq']:>8} {entry['ts']} {entry['kind']:<9} {fields}"


def render_jsonl(entry: dict[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=True, sort_keys=True)  # \\n and ESC arrive escaped
