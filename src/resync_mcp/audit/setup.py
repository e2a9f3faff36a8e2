"""Opening the audit store from settings, and the ``resync-mcp audit`` commands."""

from __future__ import annotations

import hashlib
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

from resync_mcp.audit import crypto
from resync_mcp.audit.reader import Filter, entries, render_jsonl, render_line
from resync_mcp.audit.store import AuditStore
from resync_mcp.audit.verify import Report, verify
from resync_mcp.clock import Clock, SystemClock
from resync_mcp.config import AuditSettings
from resync_mcp.errors import ConfigError
from resync_mcp.paths import unusable_folder, user_dir

DB_NAME = "audit.db"


def _legacy_or(legacy: Path, default: Path) -> Path:
    """Keys created beside the data by earlier versions keep being used where they are."""
    return legacy if legacy.exists() else default


def signing_key_path(a: AuditSettings) -> Path:
    if a.signing_key_file:
        return a.signing_key_file
    return _legacy_or(a.path / "checkpoint-signing.pem", user_dir("config") / "audit-signing.pem")


def kek_path(a: AuditSettings) -> Path:
    return _legacy_or(a.path / "kek.b64", user_dir("config") / "audit-kek.b64")


def external_dir(a: AuditSettings) -> Path | None:
    """Checkpoints are copied outside the data folder by default: to the user's state folder, one
    subfolder per chain (a hash of its absolute path), unless configured or turned off."""
    if a.external_dir is not None:  # in a fleet, one folder per replica under the shared location
        return a.external_dir / a.replica_id if a.replica_id else a.external_dir
    if not a.external_default:
        return None
    tag = hashlib.sha256(str(a.path.resolve()).encode()).hexdigest()[:16]
    return user_dir("state") / "audit-checkpoints" / tag


def open_store(a: AuditSettings, clock: Clock, *, readonly: bool = False) -> AuditStore:
    """The store; its keys are created in the user's config folder when none are configured.

    Raises:
        ConfigError: a configured KEK cannot be read or is malformed.
    """
    if readonly and not (a.kek_bytes() or kek_path(a).exists()):
        # Reading creates nothing: a new KEK would only make every record look shredded.
        raise ConfigError(
            f"No audit KEK at {kek_path(a)}.",
            hint="Run this as the user whose server wrote the chain, or set RESYNC_AUDIT__KEK / audit.kek_file.",
        )
    try:
        kek = a.kek_bytes() or crypto.load_or_create_kek(kek_path(a))
        signer = crypto.load_or_create_signing_key(signing_key_path(a))
        store = AuditStore(
            a.path / DB_NAME,
            kek,
            signer,
            clock,
            checkpoint_every=a.checkpoint_every,
            checkpoint_interval_s=a.checkpoint_interval_s,
            external_dir=external_dir(a),
            group_max=a.group_commit_max,
            group_ms=a.group_commit_ms,
        )
        return store.open(readonly=readonly)
    except (OSError, sqlite3.Error) as exc:
        where = getattr(exc, "filename", None) or a.path
        why = f"{where}: {getattr(exc, 'strerror', None) or exc}"
        raise unusable_folder("audit", why, "audit.dir", "RESYNC_AUDIT__DIR", "audit.enabled = false") from None


def trusted_keys(a: AuditSettings) -> set[str]:
    if a.trusted_keys:
        return {k.lower() for k in a.trusted_keys}
    path = signing_key_path(a)
    return {crypto.public_hex(crypto.load_or_create_signing_key(path))} if path.exists() else set()


def _reader(a: AuditSettings) -> AuditStore | None:
    """A read-only store to open ciphertexts with, when the KEK and signing key exist."""
    if not (a.kek_bytes() or kek_path(a).exists()) or not signing_key_path(a).exists():
        return None
    return open_store(a, SystemClock(), readonly=True)


def run_verify(a: AuditSettings, out: Callable[[str], None] = print) -> int:
    db = a.path / DB_NAME
    if not db.exists():
        out(f"no audit chain at {db}")
        return 2
    reader = _reader(a)
    try:
        opens = reader.opens if reader is not None else None
        report: Report = verify(db, trusted=trusted_keys(a), external_dir=external_dir(a), opens=opens)
    finally:
        if reader is not None:
            reader.close()
    out(report.summary())
    if reader is None:
        out("  (no KEK at hand: hashes and signatures checked, ciphertexts not opened)")
    for seq, what in sorted(report.problems)[:20]:
        out(f"  seq {seq}: {what}")
    return 0 if report.ok else 1


def run_show(a: AuditSettings, clock: Clock, flt: Filter, *, jsonl: bool, limit: int | None) -> int:
    if not (a.path / DB_NAME).exists():
        print(f"no audit chain at {a.path / DB_NAME}", file=sys.stderr)
        return 2
    store = open_store(a, clock, readonly=True)  # reading must never change the chain
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
