"""The audit store: SQLite in WAL mode, append-only through this code path.

``append`` assigns the sequence number and chain hash at once, in memory, so order is fixed
by the call. A durable append (control actions) commits with an fsync before it returns,
together with any records waiting; other records are group-committed (``group_max`` records
or ``group_ms``), so a crash can lose at most the last few read records, never an intent.

Failure: when SQLite cannot write (disk full, I/O error) the store stays usable in memory as
"unhealthy": the failed records are counted as dropped, ``append`` raises AuditUnavailable,
and the next successful commit clears the state. The record API has no update or delete;
the only delete is recovery discarding one torn trailing record, which it records.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from resync_mcp.audit import chain
from resync_mcp.audit import crypto as c
from resync_mcp.clock import Clock
from resync_mcp.errors import ResyncError

SYSTEM = "system"  # the subject of the chain's own records (rotation, shredding, recovery)
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
class Row:
    seq: int
    ts: str
    kind: str
    key_id: str
    nonce: str
    ct: str
    hash: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "kind": self.kind,
            "key_id": self.key_id,
            "nonce": self.nonce,
            "ct": self.ct,
        }


@dataclass
class Stats:
    appended: int = 0
    dropped: int = 0
    durable: int = 0
    checkpoints: int = 0
    failures: int = 0
    last_error: str | None = None
    recovered: list[int] = field(default_factory=list)


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
        self._keys: dict[str, bytes] = {}  # key_id -> data key (unwrapped, in memory)
        self._epoch = 1
        self._seq = 0  # last assigned
        self._head = chain.GENESIS
        self._committed = (0, chain.GENESIS)
        self._pending: list[Row] = []
        self._pending_since: float | None = None
        self._last_cp = (0, clock.monotonic())
        self.stats = Stats()

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> AuditStore:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # each commit is fsync'd: a durable record is on disk
        db.executescript(_SCHEMA)
        self._db = db
        epoch = db.execute("SELECT v FROM meta WHERE k='epoch'").fetchone()
        self._epoch = int(epoch[0]) if epoch else 1
        last_cp = db.execute("SELECT seq FROM checkpoints ORDER BY seq DESC LIMIT 1").fetchone()
        self._recover()
        self._last_cp = (int(last_cp[0]) if last_cp else 0, self._clock.monotonic())
        return self

    def _recover(self) -> None:
        """Load the head; a trailing record whose hash does not link is torn: discard it, say so."""
        assert self._db is not None
        tail = self._db.execute(
            "SELECT seq, ts, kind, key_id, nonce, ct, hash FROM records ORDER BY seq DESC LIMIT 2"
        ).fetchall()
        if not tail:
            return
        last = Row(*tail[0])
        prev_hash = tail[1][6] if len(tail) > 1 else chain.GENESIS
        if chain.link(prev_hash, last.as_dict()) != last.hash:
            self._db.execute("DELETE FROM records WHERE seq = ?", (last.seq,))  # the only delete, ever
            self._seq, self._head = last.seq - 1, prev_hash
            self._committed = (self._seq, self._head)
            self.stats.recovered.append(last.seq)
            self.append("recovery", SYSTEM, {"discarded_seq": last.seq, "reason": "torn trailing record"}, durable=True)
            return
        self._seq, self._head = last.seq, last.hash
        self._committed = (self._seq, self._head)

    def close(self) -> None:
        if self._db is None:
            return
        with contextlib.suppress(AuditUnavailable, sqlite3.Error, OSError):
            self.flush()
            if self._committed[0] != self._last_cp[0]:
                self.checkpoint()  # a clean shutdown leaves its head signed: the tail is provable too
        self._db.close()
        self._db = None

    # ------------------------------------------------------------------ keys
    def _key_id(self, subject: str) -> str:
        return f"{c.subject_tag(subject)}.{self._epoch}"

    def _data_key(self, subject: str) -> tuple[str, bytes]:
        key_id = self._key_id(subject)
        key = self._keys.get(key_id)
        if key is not None:
            return key_id, key
        assert self._db is not None
        row = self._db.execute("SELECT wrapped FROM data_keys WHERE key_id = ?", (key_id,)).fetchone()
        if row is not None and row[0] is not None:
            key = c.unwrap(self._kek, key_id, bytes(row[0]))
        else:
            key = c.new_data_key()
            self._db.execute(
                "INSERT OR REPLACE INTO data_keys (key_id, subject, epoch, wrapped, created) VALUES (?, ?, ?, ?, ?)",
                (key_id, c.subject_tag(subject), self._epoch, c.wrap(self._kek, key_id, key), _iso(self._clock.now())),
            )
        self._keys[key_id] = key
        return key_id, key

    def key_for(self, key_id: str) -> bytes:
        """Raises KeyUnavailable when the key was shredded or does not open."""
        if key_id in self._keys:
            return self._keys[key_id]
        assert self._db is not None
        row = self._db.execute("SELECT wrapped FROM data_keys WHERE key_id = ?", (key_id,)).fetchone()
        if row is None or row[0] is None:
            raise c.KeyUnavailable(f"data key {key_id} is gone (shredded or never stored)")
        return c.unwrap(self._kek, key_id, bytes(row[0]))

    def rotate_key(self) -> int:
        """Start a new key epoch: new data keys for every subject from now on; recorded."""
        assert self._db is not None
        self.flush()
        self._epoch += 1
        self._db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES ('epoch', ?)", (str(self._epoch),))
        self._keys.clear()
        self.append("rotation", SYSTEM, {"epoch": self._epoch}, durable=True)
        return self._epoch

    def shred(self, subject: str) -> int:
        """Destroy every data key of ``subject``: its records stay in the chain, unreadable."""
        assert self._db is not None
        tag = c.subject_tag(subject)
        cur = self._db.execute(
            "UPDATE data_keys SET wrapped = NULL, shredded = ? WHERE subject = ? AND wrapped IS NOT NULL",
            (_iso(self._clock.now()), tag),
        )
        self._keys = {k: v for k, v in self._keys.items() if not k.startswith(tag + ".")}
        self.append("shred", SYSTEM, {"subject_tag": tag, "keys": cur.rowcount}, durable=True)
        return cur.rowcount

    # ------------------------------------------------------------------ append
    def append(self, kind: str, subject: str, payload: dict[str, Any], *, durable: bool) -> int:
        """Add a record; returns its sequence number.

        Raises:
            AuditUnavailable: the store cannot write (the record is counted as dropped).
        """
        if self._db is None:
            raise AuditUnavailable("The audit store is not open.")
        try:
            key_id, key = self._data_key(subject)
        except (sqlite3.Error, OSError, c.KeyUnavailable) as exc:
            self._fail(exc, dropped=1)
            raise AuditUnavailable(f"The audit store cannot write: {exc}.") from None
        seq = self._seq + 1
        ts = _iso(self._clock.now())
        nonce, ct = c.seal(key, seq, key_id, chain.canonical(payload))
        row = Row(seq, ts, kind, key_id, nonce, ct)
        row.hash = chain.link(self._head, row.as_dict())
        self._seq, self._head = seq, row.hash
        self._pending.append(row)
        if self._pending_since is None:
            self._pending_since = self._clock.monotonic()
        self.stats.appended += 1
        if durable or len(self._pending) >= self._group_max or self._due():
            self.flush()
            if durable:
                self.stats.durable += 1
        return seq

    def _due(self) -> bool:
        return self._pending_since is not None and self._clock.monotonic() - self._pending_since >= self._group_s

    def flush(self) -> None:
        """Commit what waits, in one fsync'd transaction; then checkpoint when due.

        Raises:
            AuditUnavailable: the commit failed; the waiting records are dropped and counted.
        """
        if not self._pending or self._db is None:
            return
        rows, self._pending, self._pending_since = self._pending, [], None
        try:
            self._write(rows)
        except (sqlite3.Error, OSError) as exc:
            self._seq, self._head = self._committed
            self._fail(exc, dropped=len(rows))
            raise AuditUnavailable(
                f"The audit store cannot write ({exc}); {len(rows)} record(s) were not stored.",
                hint="Free disk space or fix the audit directory; control actions are refused until it writes.",
            ) from None
        self._committed = (rows[-1].seq, rows[-1].hash)
        self.stats.last_error = None
        self._maybe_checkpoint()

    def _write(self, rows: list[Row]) -> None:
        assert self._db is not None
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT INTO records (seq, ts, kind, key_id, nonce, ct, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(r.seq, r.ts, r.kind, r.key_id, r.nonce, r.ct, r.hash) for r in rows],
            )
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _fail(self, exc: BaseException, *, dropped: int) -> None:
        self.stats.failures += 1
        self.stats.dropped += dropped
        self.stats.last_error = f"{type(exc).__name__}: {exc}"

    @property
    def healthy(self) -> bool:
        return self._db is not None and self.stats.last_error is None

    # ------------------------------------------------------------------ checkpoints
    def _maybe_checkpoint(self) -> None:
        seq, _head = self._committed
        last_seq, last_at = self._last_cp
        if seq == last_seq:
            return
        if seq - last_seq >= self._every or self._clock.monotonic() - last_at >= self._interval:
            self.checkpoint()

    def checkpoint(self) -> dict[str, Any] | None:
        """Sign (seq, head, time) of what is committed; store it and copy it outside."""
        assert self._db is not None
        seq, head = self._committed
        if seq == 0:
            return None
        ts = _iso(self._clock.now())
        signature = self._signer.sign(chain.checkpoint_message(seq, head, ts)).hex()
        cp = {"seq": seq, "head": head, "ts": ts, "public_key": self.public_key, "signature": signature}
        self._db.execute(
            "INSERT OR REPLACE INTO checkpoints (seq, head, ts, public_key, signature) VALUES (?, ?, ?, ?, ?)",
            (seq, head, ts, self.public_key, signature),
        )
        if self.external_dir is not None:
            write_checkpoint_file(self.external_dir, cp)
        self._last_cp = (seq, self._clock.monotonic())
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
            "last_checkpoint_seq": self._last_cp[0],
            "key_epoch": self._epoch,
        }


def write_checkpoint_file(directory: Path, cp: dict[str, Any]) -> None:
    """Atomically and durably: a reader never sees half a checkpoint."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"checkpoint-{cp['seq']:012d}.json"
    tmp = final.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(cp, sort_keys=True))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, final)
