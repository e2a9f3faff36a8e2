"""The audit store: SQLite in WAL mode, append-only through this code path, one chain
shared by every process that opens the folder.

Sequence numbers and chain hashes are assigned at commit, inside ``BEGIN IMMEDIATE``: the
transaction holds SQLite's write lock, so two servers on one folder (Claude Desktop and an
IDE) interleave their records in one chain instead of colliding on the same seq. A durable
append (control actions) commits with an fsync before it returns, together with any records
waiting; other records are group-committed (``group_max`` records or ``group_ms``).

Failure: when SQLite cannot write (disk full, I/O error) the records are counted as dropped,
``append`` raises AuditUnavailable, health says so, and the next successful commit starts
with a ``lost`` record naming how many were lost and why, so ``audit verify`` reports the gap.
Nothing is ever deleted or rewritten: a record that does not link is reported, not repaired.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from resync_mcp.audit import chain
from resync_mcp.audit import checkpoint as cps
from resync_mcp.audit import crypto as c
from resync_mcp.audit.fleet import publish_key
from resync_mcp.audit.keys import DataKeys
from resync_mcp.clock import Clock
from resync_mcp.errors import ResyncError

SYSTEM = "system"  # the subject of the chain's own records (rotation, shredding, losses)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, kind TEXT NOT NULL, key_id TEXT NOT NULL,
    nonce TEXT NOT NULL, ct TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS data_keys (
    key_id TEXT PRIMARY KEY, subject TEXT NOT NULL, epoch INTEGER NOT NULL, wrapped BLOB,
    created TEXT NOT NULL, shredded TEXT);
CREATE TABLE IF NOT EXISTS checkpoints (
    seq INTEGER PRIMARY KEY, head TEXT NOT NULL, ts TEXT NOT NULL, public_key TEXT NOT NULL,
    signature TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
"""


class AuditUnavailable(ResyncError):
    """The audit store cannot write; actions that need a durable record must not proceed."""


@dataclass
class Stats:
    appended: int = 0
    dropped: int = 0
    unreported: int = 0  # dropped records not yet named by a ``lost`` record in the chain
    durable: int = 0
    checkpoints: int = 0
    failures: int = 0
    last_error: str | None = None
    damaged_at: int | None = None  # first record past the last checkpoint that does not link


# A record's payload, or what makes it at the commit (in the committer's thread, off the loop).
Payload = dict[str, Any] | Callable[[], dict[str, Any]]


@dataclass(slots=True)
class _Entry:
    """A record waiting for its commit, where it gets its seq, ciphertext and hash."""

    ts: datetime | str  # ISO text at the commit
    kind: str
    key_id: str
    key: bytes = field(repr=False)
    plaintext: bytes | Payload = field(repr=False)  # a payload is made and encoded at its commit


def _payload(made: Payload) -> dict[str, Any]:
    if not callable(made):
        return made
    try:
        return made()
    except Exception as exc:  # a record must not fail its whole batch: it says what it lost
        return {"error": f"payload unavailable: {type(exc).__name__}"}


def _iso(ts: datetime) -> str:
    """``2026-11-30T09:56:50.123456Z`` (isoformat is several times cheaper than strftime)."""
    return ts.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _private(path: Path) -> None:
    """The database and its WAL companions are the owner's alone, whatever the umask."""
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(p, 0o600)


class AuditStore:
    def __init__(
        self,
        path: Path,
        kek: bytes,
        signer: Ed25519PrivateKey,
        clock: Clock,
        *,
        checkpoint_every: int = 1000,
        checkpoint_interval_s: float = 300.0,
        external_dir: Path | None = None,
        group_max: int = 256,
        group_ms: float = 50.0,
    ) -> None:
        self.path = path
        self._kek = kek
        self._signer = signer
        self.public_key = c.public_hex(signer)
        self._clock = clock
        self._every = checkpoint_every
        self._interval = checkpoint_interval_s
        self.external_dir = external_dir
        self._group_max = group_max
        self._group_s = group_ms / 1000
        self._db: sqlite3.Connection | None = None
        self._readonly = False
        self._modes_set = False  # the WAL files made owner-only (they appear at the first write)
        self._keys: DataKeys | None = None
        self._committed = (0, chain.GENESIS)  # the chain's tail after our last commit
        self._written: dict[int, tuple[str, tuple[Any, ...]]] = {}  # seq -> (previous hash, row) we sealed
        self._pending: list[_Entry] = []
        self.kick: Callable[[], None] | None = None  # wakes a committer thread (the server's), if any
        self._kicked = False
        self._pending_since: float | None = None
        self._signed = (0, chain.GENESIS)  # the last checkpoint this store trusts
        self._signed_at = clock.monotonic()
        self.stats = Stats()
        # The group commit may run in a worker thread (app.py) while calls append on the loop:
        # every use of the database, and the hand-over of the waiting records, holds this.
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ lifecycle
    def open(self, *, readonly: bool = False) -> AuditStore:
        """Open the chain. ``readonly`` (``audit show``) writes nothing at all, not even on close."""
        self._readonly = readonly
        if not readonly:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        if not readonly:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # each commit is fsync'd: a durable record is on disk
            db.executescript(_SCHEMA)
            with contextlib.suppress(OSError):
                os.chmod(self.path.parent, 0o700)
        self._db = db
        self._keys = DataKeys(db, self._kek, lambda: _iso(self._clock.now()))
        self._committed = self._tail()
        self._signed = cps.last_good(db, self.public_key)
        self.stats.damaged_at = cps.segment_break(db, self._signed, self.opens)
        return self

    def _tail(self) -> tuple[int, str]:
        assert self._db is not None
        row = self._db.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        return (int(row[0]), str(row[1])) if row else (0, chain.GENESIS)

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._db is None:
            return
        if not self._readonly:
            with contextlib.suppress(AuditUnavailable, sqlite3.Error, OSError):
                self.flush()
                if self._committed[0] != self._signed[0]:
                    self.checkpoint()  # a clean shutdown leaves its head signed: the tail is provable too
        self._db.close()
        self._db = None

    # ------------------------------------------------------------------ keys
    @property
    def _data_keys(self) -> DataKeys:
        if self._keys is None:
            raise AuditUnavailable("The audit store is not open.")
        return self._keys

    def key_for(self, key_id: str) -> bytes:
        """Raises KeyUnavailable when the key was shredded or does not open."""
        return self._data_keys.get(key_id)

    def opens(self, row: dict[str, Any]) -> bool:
        return self._data_keys.opens(row)

    def rotate_key(self) -> int:
        """Start a new key epoch: new data keys for every subject from now on; recorded."""
        with self._lock:
            self.flush()
            epoch = self._data_keys.next_epoch()
            self.append("rotation", SYSTEM, {"epoch": epoch}, durable=True)
            return epoch

    def shred(self, subject: str) -> int:
        """Destroy every data key of ``subject``: its records stay in the chain, unreadable."""
        with self._lock:
            tag, count = self._data_keys.shred(subject)
            self.append("shred", SYSTEM, {"subject_tag": tag, "keys": count}, durable=True)
            return count

    # ------------------------------------------------------------------ append
    def append(self, kind: str, subject: str, payload: Payload, *, durable: bool) -> int | None:
        """Add a record. A durable one is committed before this returns, and its seq returned;
        others wait for the group commit (None: the seq is assigned then).

        Raises:
            AuditUnavailable: the store cannot write (the record is counted as dropped).
        """
        if self._db is None or self._readonly:
            raise AuditUnavailable("The audit store is not open for writing.")
        try:
            known = self._data_keys.cached(subject)  # the usual case: no database, no lock
            if known is None:
                with self._lock:
                    known = self._data_keys.for_subject(subject)
            key_id, key = known
        except (sqlite3.Error, OSError, c.KeyUnavailable) as exc:
            self._fail(exc, dropped=1)
            raise AuditUnavailable(f"The audit store cannot write: {exc}.") from None
        # A durable record is encoded now (its commit follows at once); another at its group
        # commit, in the committer's thread, off the caller's (the event loop's) path.
        body = chain.canonical(_payload(payload)) if durable else payload
        entry = _Entry(self._clock.now(), kind, key_id, key, body)
        if durable:  # queued and committed in one hold of the lock: the group commit cannot take it
            with self._lock:  # in between, and its seq is the one this returns
                self._queue(entry)
                seq = self._flush()
                self.stats.durable += 1
                return seq
        self._queue(entry)
        if len(self._pending) >= self._group_max or self._due():
            # A batch is due: the committer's thread takes it (this is usually the event loop,
            # where an fsync would stall every call), unless there is none or it lags far behind.
            if self.kick is not None and len(self._pending) < 16 * self._group_max:
                if not self._kicked:
                    self._kicked = True
                    self.kick()
            else:
                self.flush()
        return None

    def _queue(self, entry: _Entry) -> None:
        self._pending.append(entry)
        if self._pending_since is None:
            self._pending_since = self._clock.monotonic()
        self.stats.appended += 1

    def _due(self) -> bool:
        return self._pending_since is not None and self._clock.monotonic() - self._pending_since >= self._group_s

    def flush(self) -> int | None:
        """Commit what waits, in one fsync'd transaction; then checkpoint when due. Returns the
        last committed seq. Safe from a worker thread (the group commit) while others append.

        Raises:
            AuditUnavailable: the commit failed; the waiting records are dropped and counted.
        """
        with self._lock:
            return self._flush()

    def _flush(self) -> int | None:
        if not self._pending or self._db is None:
            return None
        entries, self._pending, self._pending_since, self._kicked = self._pending, [], None, False
        records = len(entries)  # the callers' records; a ``lost`` record may go first
        try:
            if self.stats.unreported:
                lost = {"records": self.stats.unreported, "error": self.stats.last_error}
                key_id, key = self._data_keys.for_subject(SYSTEM)
                entries.insert(0, _Entry(entries[0].ts, "lost", key_id, key, chain.canonical(lost)))
            self._committed = self._write(entries)
        except (sqlite3.Error, OSError, c.KeyUnavailable) as exc:
            self._fail(exc, dropped=records)
            raise AuditUnavailable(
                f"The audit store cannot write ({exc}); {records} record(s) were not stored.",
                hint="Free disk space or fix the audit directory; control actions are refused until it writes.",
            ) from None
        self.stats.last_error, self.stats.unreported = None, 0
        if not self._modes_set:
            _private(self.path)  # the WAL files exist once something was written
            self._modes_set = True
        self._maybe_checkpoint()
        return self._committed[0]

    def _write(self, entries: list[_Entry]) -> tuple[int, str]:
        """Sequence, seal and chain the entries under the write lock: the tail is read inside the
        transaction, so another process's commit in between is simply the previous link."""
        assert self._db is not None
        self._db.execute("BEGIN IMMEDIATE")
        try:
            seq, head = self._tail()
            if seq < self._committed[0] and self.stats.damaged_at is None:
                self.stats.damaged_at = seq + 1  # records we committed are gone: truncated or rolled back
            rows = []
            for e, fresh in zip(entries, c.nonces(len(entries)), strict=True):
                seq += 1
                ts = e.ts if isinstance(e.ts, str) else _iso(e.ts)
                made = e.plaintext
                plain = made if isinstance(made, bytes) else chain.canonical(_payload(made), lenient=True)
                nonce, ct = c.seal(e.key, seq, e.key_id, plain, f"{e.kind}|{ts}", fresh)
                body = {"seq": seq, "ts": ts, "kind": e.kind, "key_id": e.key_id, "nonce": nonce, "ct": ct}
                prev, head = head, chain.link(head, body)
                row = (seq, ts, e.kind, e.key_id, nonce, ct, head)
                rows.append(row)
                if len(self._written) < 4 * self._every + 4096:  # bounded even if checkpoints are refused
                    self._written[seq] = (prev, row)
            self._db.executemany(
                "INSERT INTO records (seq, ts, kind, key_id, nonce, ct, hash) VALUES (?, ?, ?, ?, ?, ?, ?)", rows
            )
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        return seq, head

    def _fail(self, exc: BaseException, *, dropped: int) -> None:
        self.stats.failures += 1
        self.stats.dropped += dropped
        self.stats.unreported += dropped
        self.stats.last_error = f"{type(exc).__name__}: {exc}"

    @property
    def healthy(self) -> bool:
        return self._db is not None and self.stats.last_error is None

    # ------------------------------------------------------------------ checkpoints
    def _maybe_checkpoint(self) -> None:
        seq = self._committed[0]
        if seq == self._signed[0]:
            return
        if seq - self._signed[0] >= self._every or self._clock.monotonic() - self._signed_at >= self._interval:
            self.checkpoint()

    def checkpoint(self) -> dict[str, Any] | None:
        """Sign (seq, head, time) of the chain's tail, after checking that every record since
        the last checkpoint still links; store it and copy it outside. A broken segment is not
        signed (that would launder it): it is reported in ``status`` instead."""
        with self._lock:
            return self._checkpoint()

    def _checkpoint(self) -> dict[str, Any] | None:
        assert self._db is not None
        seq, head = self._tail()
        if seq == 0:
            return None
        broken = cps.segment_break(self._db, self._signed, self.opens, self._written)
        if broken is not None:
            self.stats.damaged_at = broken
            return None
        self._written = {k: v for k, v in self._written.items() if k > seq}
        ts = _iso(self._clock.now())
        signature = self._signer.sign(chain.checkpoint_message(seq, head, ts)).hex()
        cp = {"seq": seq, "head": head, "ts": ts, "public_key": self.public_key, "signature": signature}
        cps.store_checkpoint(self._db, cp)
        if self.external_dir is not None:
            cps.write_checkpoint_file(self.external_dir, cp)
            publish_key(self.external_dir, self.public_key)  # a verifier of the shared folder finds it
        self._signed, self._signed_at = (seq, head), self._clock.monotonic()
        self.stats.checkpoints += 1
        return cp

    def status(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "records": self._committed[0],
            "pending": len(self._pending),
            "dropped": self.stats.dropped,
            "failures": self.stats.failures,
            "last_error": self.stats.last_error,
            "last_checkpoint_seq": self._signed[0],
            "chain_damaged_at": self.stats.damaged_at,
            "key_epoch": self._keys.epoch if self._keys is not None else 0,
        }
