"""Pure chain arithmetic: canonical JSON, record hashes, checkpoint bytes.

A stored row is ``{seq, ts, kind, key_id, nonce, ct}`` (nonce and ciphertext in base64). Its
hash is SHA-256 over the previous hash and the row's canonical JSON, so the chain covers the
ciphertext and anyone can verify it without a key. Checkpoints sign ``{seq, head, ts}``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64
ROW_FIELDS = ("seq", "ts", "kind", "key_id", "nonce", "ct")


def canonical(obj: Any, *, lenient: bool = False) -> bytes:
    """One byte string per value: sorted keys, no spaces, ASCII only. ``lenient``: a value JSON
    cannot encode is written as its text (a deferred record must not fail its whole batch)."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str if lenient else None
    ).encode("ascii")


def link(prev_hash: str, row: dict[str, Any]) -> str:
    body = {k: row[k] for k in ROW_FIELDS}
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical(body)).hexdigest()


def checkpoint_message(seq: int, head: str, ts: str) -> bytes:
    return canonical({"head": head, "seq": seq, "ts": ts, "type": "resync-audit-checkpoint/1"})
