"""Data keys: one per subject (principal) and key epoch, stored only wrapped by the KEK.

Destroying a subject's wrapped keys is crypto-shredding: its records stay in the chain, and
can no longer be read. Several processes share the table: the first key stored for a
(subject, epoch) wins, and every process uses that one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from resync_mcp.audit import crypto as c


class DataKeys:
    def __init__(self, db: sqlite3.Connection, kek: bytes, now: Callable[[], str]) -> None:
        self._db = db
        self._kek = kek
        self._now = now  # ISO time for the key's creation / shredding stamp
        self._cache: dict[str, bytes] = {}  # key_id -> data key (unwrapped, in memory)
        row = db.execute("SELECT v FROM meta WHERE k='epoch'").fetchone()
        self.epoch = int(row[0]) if row else 1

    def cached(self, subject: str) -> tuple[str, bytes] | None:
        """The subject's key of this epoch when already in memory (no database access)."""
        key_id = f"{c.subject_tag(subject)}.{self.epoch}"
        key = self._cache.get(key_id)
        return (key_id, key) if key is not None else None

    def for_subject(self, subject: str) -> tuple[str, bytes]:
        key_id = f"{c.subject_tag(subject)}.{self.epoch}"
        key = self._cache.get(key_id)
        if key is not None:
            return key_id, key
        # Another process may create the same subject's key at the same moment: the first one
        # stored wins and both use it (a replaced key would make the other's records unreadable).
        self._db.execute(
            "INSERT OR IGNORE INTO data_keys (key_id, subject, epoch, wrapped, created) VALUES (?, ?, ?, ?, ?)",
            (key_id, c.subject_tag(subject), self.epoch, c.wrap(self._kek, key_id, c.new_data_key()), self._now()),
        )
        key = self.get(key_id)
        self._cache[key_id] = key
        return key_id, key

    def get(self, key_id: str) -> bytes:
        """Raises KeyUnavailable when the key was shredded or does not open."""
        if key_id in self._cache:
            return self._cache[key_id]
        row = self._db.execute("SELECT wrapped FROM data_keys WHERE key_id = ?", (key_id,)).fetchone()
        if row is None or row[0] is None:
            raise c.KeyUnavailable(f"data key {key_id} is gone (shredded or never stored)")
        return c.unwrap(self._kek, key_id, bytes(row[0]))

    def opens(self, row: dict[str, Any]) -> bool:
        """Whether a record could have been written with these keys: its ciphertext (bound to
        its kind and time) opens, or its key was shredded (then nothing can be checked)."""
        seq, key_id = row["seq"], row["key_id"]
        try:
            c.open_sealed(self.get(key_id), seq, key_id, row["nonce"], row["ct"], f"{row['kind']}|{row['ts']}")
            return True
        except c.KeyUnavailable:
            key = self._db.execute("SELECT shredded FROM data_keys WHERE key_id = ?", (key_id,)).fetchone()
            return key is not None and key[0] is not None

    def next_epoch(self) -> int:
        self.epoch += 1
        self._db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES ('epoch', ?)", (str(self.epoch),))
        self._cache.clear()
        return self.epoch

    def shred(self, subject: str) -> tuple[str, int]:
        """(the subject's tag, how many keys were destroyed)."""
        tag = c.subject_tag(subject)
        cur = self._db.execute(
            "UPDATE data_keys SET wrapped = NULL, shredded = ? WHERE subject = ? AND wrapped IS NOT NULL",
            (self._now(), tag),
        )
        self._cache = {k: v for k, v in self._cache.items() if not k.startswith(tag + ".")}
        c.forget_keys()
        return tag, cur.rowcount
