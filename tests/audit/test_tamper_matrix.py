"""Every tampering, at every position, survives neither an open of the store nor `audit verify`.

Each case: a chain with checkpoints and an unsigned tail (a crash: no clean shutdown), then one
tampering at one position, then what users do next: ``audit show`` (a read-only open), a
server start that appends and shuts down cleanly (which signs its head), and ``audit verify``
(with the KEK at hand, as the CLI has it). The open must not repair or sign the damage.

Not detectable, by construction (the README's threat model): removing records *past* the last
checkpoint from the end of the chain (``truncate`` past the checkpoint, ``delete`` of the
head: nothing attested them yet; a clean shutdown and ``checkpoint_interval_s`` keep that tail
short), and, when no checkpoint is kept outside the database (no ``external_dir``), a rollback
or a rewrite re-signed with the real signing key: the database is then all there is.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from resync_mcp.audit import chain
from resync_mcp.audit.crypto import public_hex
from resync_mcp.audit.reader import Filter, entries
from resync_mcp.audit.store import AuditStore
from resync_mcp.audit.verify import verify
from resync_mcp.clock import FakeClock
from tests.audit.helpers import fill, make_store

KINDS = ["flip", "delete", "insert", "reorder", "truncate", "rollback", "forged_cp", "replaced_cp", "resigned"]
POSITIONS = ["under", "past", "head"]
# Removing records from the end, past the last checkpoint: nothing attested them yet.
UNDETECTABLE = {("truncate", "head"), ("truncate", "past"), ("delete", "head")}


def _rows(db: sqlite3.Connection) -> list[list[Any]]:
    return [list(r) for r in db.execute("SELECT seq, ts, kind, key_id, nonce, ct, hash FROM records ORDER BY seq")]


def _relink(db: sqlite3.Connection, rows: list[list[Any]]) -> None:
    """A careful forger: renumbers and recomputes every hash after the change."""
    db.execute("DELETE FROM records")
    prev = chain.GENESIS
    for n, r in enumerate(rows, start=1):
        r[0] = n
        r[6] = prev = chain.link(prev, dict(zip(chain.ROW_FIELDS, r[:6], strict=True)))
        db.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)", r)


def _tamper(root: Path, store: AuditStore, kind: str, pos: int, snapshot: Path) -> None:
    if kind == "rollback":
        for extra in ("audit.db-wal", "audit.db-shm"):
            (root / extra).unlink(missing_ok=True)
        shutil.copy(snapshot, root / "audit.db")
        return
    db = sqlite3.connect(root / "audit.db")
    rows = _rows(db)
    i = pos - 1
    if kind == "flip":
        ct = rows[i][5]
        db.execute("UPDATE records SET ct = ? WHERE seq = ?", (("B" if ct[0] == "A" else "A") + ct[1:], pos))
    elif kind == "delete":
        db.execute("DELETE FROM records WHERE seq = ?", (pos,))
    elif kind == "insert":
        _relink(db, [*rows[:pos], [*rows[i][:2], "intent", *rows[i][3:]], *rows[pos:]])
    elif kind == "reorder":
        rows[i], rows[i - 1] = rows[i - 1], rows[i]
        _relink(db, rows)
    elif kind == "truncate":
        db.execute("DELETE FROM records WHERE seq >= ?", (pos,))
    elif kind in ("forged_cp", "replaced_cp"):  # signed by a key that is not trusted
        intruder = Ed25519PrivateKey.generate()
        head = rows[-1][6] if kind == "forged_cp" else "f" * 64
        seq = len(rows) if kind == "forged_cp" else int(db.execute("SELECT max(seq) FROM checkpoints").fetchone()[0])
        ts = "2026-11-24T06:00:00.000000Z"
        sig = intruder.sign(chain.checkpoint_message(seq, head, ts)).hex()
        db.execute("DELETE FROM checkpoints WHERE seq = ?", (seq,))
        db.execute("INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?)", (seq, head, ts, public_hex(intruder), sig))
    elif kind == "resigned":  # rewritten with the real signing key: a same-user attacker
        rows[i][2] = "call" if rows[i][2] != "call" else "intent"
        _relink(db, rows)
        db.execute("DELETE FROM checkpoints")
        for (seq,) in db.execute("SELECT DISTINCT seq FROM records WHERE seq % 4 = 0").fetchall():
            head = rows[seq - 1][6]
            ts = "2026-11-24T06:00:00.000000Z"
            sig = store._signer.sign(chain.checkpoint_message(seq, head, ts)).hex()
            db.execute("INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?)", (seq, head, ts, store.public_key, sig))
    db.commit()
    db.close()


def _undetectable(kind: str, position: str, external: bool) -> bool:
    if (kind, position) in UNDETECTABLE:
        return True
    return not external and kind in ("rollback", "resigned")  # the database is all there is


@pytest.mark.parametrize("external", [True, False], ids=["external", "local-only"])
@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_tampering_is_detected_after_show_and_a_server_restart(
    tmp_path: Path, kind: str, position: str, external: bool
) -> None:
    if _undetectable(kind, position, external):
        pytest.skip("not detectable by construction: see the module docstring and the README's threat model")
    store = make_store(tmp_path, every=4, external=external)
    fill(store, 6)
    src, old = sqlite3.connect(store.path), sqlite3.connect(tmp_path / "old.db")
    src.backup(old)  # a valid older prefix, for the rollback
    src.close()
    old.close()
    fill(store, 6)
    assert store._db is not None
    store._db.close()  # a crash: the tail past the last checkpoint stays unsigned
    store._db = None
    db = sqlite3.connect(store.path)
    last_cp, n = db.execute("SELECT (SELECT max(seq) FROM checkpoints), (SELECT max(seq) FROM records)").fetchone()
    db.close()
    assert 4 <= last_cp <= n - 2, (last_cp, n)
    pos = {"under": 2, "past": last_cp + 1, "head": n}[position]
    if kind == "rollback":
        pos = 7  # the snapshot holds 6 records
    _tamper(tmp_path, store, kind, pos, tmp_path / "old.db")

    shown = AuditStore(store.path, store._kek, store._signer, FakeClock()).open(readonly=True)  # audit show
    list(entries(shown, Filter()))
    shown.close()
    server = AuditStore(
        store.path, store._kek, store._signer, FakeClock(), checkpoint_every=4, external_dir=store.external_dir
    ).open()
    server.append("call", "alice", {"tool": "get_job"}, durable=True)
    server.close()  # a clean shutdown signs its head, unless the segment since the last checkpoint is damaged

    reader = AuditStore(store.path, store._kek, store._signer, FakeClock()).open(readonly=True)
    report = verify(store.path, trusted={store.public_key}, external_dir=store.external_dir, opens=reader.opens)
    reader.close()
    assert not report.ok, (kind, position, external, report.summary())


def test_checkpoint_files_are_never_overwritten(tmp_path: Path) -> None:
    store = make_store(tmp_path, every=4)
    fill(store, 4)
    store.close()
    path = next((tmp_path / "external").glob("checkpoint-*.json"))
    before = path.read_text()
    cp = json.loads(before)
    from resync_mcp.audit.checkpoint import write_checkpoint_file

    write_checkpoint_file(tmp_path / "external", {**cp, "head": "0" * 64})
    assert path.read_text() == before and oct(path.stat().st_mode & 0o777) == "0o600"
