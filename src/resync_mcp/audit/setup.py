"""Opening the audit store from settings, and the ``resync-mcp audit`` commands."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from resync_mcp.audit import crypto
from resync_mcp.audit.reader import Filter, entries, render_jsonl, render_line
from resync_mcp.audit.store import AuditStore
from resync_mcp.audit.verify import Report, verify
from resync_mcp.clock import Clock
from resync_mcp.config import AuditSettings

DB_NAME = "audit.db"


def signing_key_path(a: AuditSettings) -> Path:
    return a.signing_key_file or a.dir / "checkpoint-signing.pem"


def open_store(a: AuditSettings, clock: Clock) -> AuditStore:
    """The store, its keys created beside it when none are configured (said in the README).

    Raises:
        ConfigError: a configured KEK cannot be read or is malformed.
    """
    kek = a.kek_bytes() or crypto.load_or_create_kek(a.dir / "kek.b64")
    signer = crypto.load_or_create_signing_key(signing_key_path(a))
    store = AuditStore(
        a.dir / DB_NAME,
        kek,
        signer,
        clock,
        checkpoint_every=a.checkpoint_every,
        checkpoint_interval_s=a.checkpoint_interval_s,
        external_dir=a.external_dir,
        group_max=a.group_commit_max,
        group_ms=a.group_commit_ms,
    )
    return store.open()


def trusted_keys(a: AuditSettings) -> set[str]:
    if a.trusted_keys:
        return {k.lower() for k in a.trusted_keys}
    path = signing_key_path(a)
    return {crypto.public_hex(crypto.load_or_create_signing_key(path))} if path.exists() else set()


def run_verify(a: AuditSettings, out: Callable[[str], None] = print) -> int:
    db = a.dir / DB_NAME
    if not db.exists():
        out(f"no audit chain at {db}")
        return 2
    report: Report = verify(db, trusted=trusted_keys(a), external_dir=a.external_dir)
    out(report.summary())
    for seq, what in sorted(report.problems)[:20]:
        out(f"  seq {seq}: {what}")
    return 0 if report.ok else 1


def run_show(a: AuditSettings, clock: Clock, flt: Filter, *, jsonl: bool, limit: int | None) -> int:
    store = open_store(a, clock)
    try:
        for entry in entries(store, flt, limit=limit):
            sys.stdout.write((render_jsonl(entry) if jsonl else render_line(entry)) + "\n")
    finally:
        store.close()
    return 0


def run_rotate(a: AuditSettings, clock: Clock, out: Callable[[str], None] = print) -> int:
    store = open_store(a, clock)
    try:
        epoch = store.rotate_key()
        store.checkpoint()
    finally:
        store.close()
    out(f"audit data keys rotated: epoch {epoch}; the rotation is recorded in the chain")
    return 0


def run_shred(a: AuditSettings, clock: Clock, subject: str, out: Callable[[str], None] = print) -> int:
    store = open_store(a, clock)
    try:
        n = store.shred(subject)
        store.checkpoint()
    finally:
        store.close()
    out(f"destroyed {n} data key(s) of that subject; their records stay in the chain, unreadable")
    return 0
