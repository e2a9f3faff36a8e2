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
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + row_bytes(row)).hexdigest()


def row_bytes(row: dict[str, Any]) -> bytes:
    """``canonical`` of the row's fields. Every record is linked at its commit and again before
    a checkpoint, so the usual row (an int seq and plain ASCII text, as this code writes them) is
    formatted directly; anything else goes through the JSON encoder. Both give the same bytes."""
    seq, ts, kind, key_id, nonce, ct = row["seq"], row["ts"], row["kind"], row["key_id"], row["nonce"], row["ct"]
    texts = type(ts) is type(kind) is type(key_id) is type(nonce) is type(ct) is str
    if type(seq) is int and texts and _plain(ct + key_id + kind + nonce + ts):
        head = f'{{"ct":"{ct}","key_id":"{key_id}","kind":"{kind}",'
        return f'{head}"nonce":"{nonce}","seq":{seq},"ts":"{ts}"}}'.encode()
    return canonical({k: row[k] for k in ROW_FIELDS})


def _plain(text: str) -> bool:
    """Printable ASCII without '"' or '\\': what JSON writes as it is."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def checkpoint_message(seq: int, head: str, ts: str) -> bytes:
    return canonical({"head": head, "seq": seq, "ts": ts, "type": "resync-audit-checkpoint/1"})
