"""Checkpoints: signing the committed head, but only a head whose history still links.

A checkpoint is never replaced (the table and the files are append-only), and none is signed
over records that fail to link to the last good checkpoint: signing a tampered tail would
launder it. ``segment_break`` is that check, cheap because it walks only past the last one.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from resync_mcp.audit import chain
from resync_mcp.audit.crypto import verify_signature


def last_good(db: sqlite3.Connection, public_key: str) -> tuple[int, str]:
    """(seq, head) of the newest local checkpoint this key signed validly; (0, GENESIS) if none."""
    rows = db.execute(
        "SELECT seq, head, ts, signature FROM checkpoints WHERE public_key = ? ORDER BY seq DESC", (public_key,)
    )
    for seq, head, ts, signature in rows:
        if verify_signature(public_key, chain.checkpoint_message(int(seq), str(head), str(ts)), str(signature)):
            return int(seq), str(head)
    return 0, chain.GENESIS


# a stored row (seq, ts, kind, key_id, nonce, ct) -> whether its ciphertext opens with the audit keys
Opens = Callable[[dict[str, Any]], bool]


def segment_break(
    db: sqlite3.Connection,
    start: tuple[int, str],
    opens: Opens | None = None,
    written: Mapping[int, tuple[str, tuple[Any, ...]]] | None = None,
) -> int | None:
    """The first record after ``start`` that does not link, is missing, or (with ``opens``)
    does not decrypt; None when all are sound. A forger without the KEK can relink hashes but
    cannot produce a ciphertext that opens, so a relinked forgery is caught before signing.

    ``start`` is a signed (seq, head); the record at that seq must still carry that head.
    ``written``: seq -> (the previous hash, the row) of each record this process sealed and linked
    itself. A stored row still equal to it, after the same previous hash, links by construction
    and is the very ciphertext sealed then: it is not hashed or decrypted again. Any other row,
    another process's or a changed one, is.
    """
    seq0, head = start
    if seq0:
        row = db.execute("SELECT hash FROM records WHERE seq = ?", (seq0,)).fetchone()
        if row is None or row[0] != head:
            return seq0
    expected = seq0 + 1
    for row in db.execute(
        "SELECT seq, ts, kind, key_id, nonce, ct, hash FROM records WHERE seq > ? ORDER BY seq", (seq0,)
    ):
        seq, ts, kind, key_id, nonce, ct, stored = row
        if seq != expected:
            return expected
        if written is None or written.get(seq) != (head, row):
            body = {"seq": seq, "ts": ts, "kind": kind, "key_id": key_id, "nonce": nonce, "ct": ct}
            if chain.link(head, body) != stored or (opens is not None and not opens(body)):
                return expected
        head, expected = stored, expected + 1
    return None


def store_checkpoint(db: sqlite3.Connection, cp: dict[str, Any]) -> None:
    """Append-only: a checkpoint that exists at this seq is kept as it is, never replaced."""
    db.execute(
        "INSERT OR IGNORE INTO checkpoints (seq, head, ts, public_key, signature) VALUES (?, ?, ?, ?, ?)",
        (cp["seq"], cp["head"], cp["ts"], cp["public_key"], cp["signature"]),
    )


def write_checkpoint_file(directory: Path, cp: dict[str, Any]) -> None:
    """Atomically and durably, owner-only, and never over an existing checkpoint file."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    final = directory / f"checkpoint-{cp['seq']:012d}.json"
    if final.exists():
        return
    tmp = final.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(cp, sort_keys=True))
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, final)  # fails if another process got there first: the first one stays
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
