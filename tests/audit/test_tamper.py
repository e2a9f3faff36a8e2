"""Every kind of tampering is detected (property tests), and the verifier survives garbage."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resync_mcp.audit import chain
from resync_mcp.audit.crypto import public_hex
from resync_mcp.audit.verify import verify
from tests.audit.helpers import fill, make_store

N = 12
FIELDS = ["ts", "kind", "key_id", "nonce", "ct", "hash"]
KINDS = [
    "flip",
    "flip_tag",
    "flip_checkpoint",
    "flip_external",
    "delete",
    "insert",
    "insert_relinked",
    "duplicate",
    "reorder",
    "truncate",
    "rollback",
    "unknown_key",
]


def _flip(text: str, i: int) -> str:
    i %= len(text)
    return text[:i] + chr(ord(text[i]) ^ 1) + text[i + 1 :]


def _rows(db: sqlite3.Connection) -> list[list[Any]]:
    return [list(r) for r in db.execute("SELECT seq, ts, kind, key_id, nonce, ct, hash FROM records ORDER BY seq")]


def _rewrite(db: sqlite3.Connection, rows: list[list[Any]], *, relink: bool) -> None:
    db.execute("DELETE FROM records")
    prev = chain.GENESIS
    for n, r in enumerate(rows, start=1):
        r[0] = n
        if relink:  # a careful forger recomputes every hash after the change
            r[6] = chain.link(prev, dict(zip(["seq", "ts", "kind", "key_id", "nonce", "ct"], r[:6], strict=True)))
            prev = r[6]
        db.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)", r)


def tamper(root: Path, kind: str, a: int, b: int) -> None:
    db = sqlite3.connect(root / "audit.db")
    rows = _rows(db)
    pos = a % len(rows)
    if kind == "flip":
        field = FIELDS[b % len(FIELDS)]
        value = db.execute(f"SELECT {field} FROM records WHERE seq = ?", (pos + 1,)).fetchone()[0]  # noqa: S608
        db.execute(f"UPDATE records SET {field} = ? WHERE seq = ?", (_flip(value, b), pos + 1))  # noqa: S608
    elif kind == "flip_tag":  # the GCM tag is the ciphertext's last 16 bytes
        ct = rows[pos][5]
        db.execute("UPDATE records SET ct = ? WHERE seq = ?", (_flip(ct, len(ct) - 3 - b % 8), pos + 1))
    elif kind == "flip_checkpoint":
        seq, sig = db.execute("SELECT seq, signature FROM checkpoints ORDER BY seq LIMIT 1").fetchone()
        db.execute("UPDATE checkpoints SET signature = ? WHERE seq = ?", (_flip(sig, b), seq))
    elif kind == "flip_external":
        path = sorted((root / "external").glob("checkpoint-*.json"))[a % 2]
        cp = json.loads(path.read_text())
        cp[["head", "signature", "ts"][b % 3]] = _flip(cp[["head", "signature", "ts"][b % 3]], a)
        path.write_text(json.dumps(cp))
    elif kind == "delete":
        db.execute("DELETE FROM records WHERE seq = ?", (pos + 1,))
    elif kind in ("insert", "insert_relinked"):
        # Inside the signed part: a record forged after the last checkpoint is the one thing a
        # keyless chain cannot tell apart (verify reports such records as unattested).
        pos = a % (len(rows) - 1)
        forged = list(rows[pos])
        forged[2] = "call"
        _rewrite(db, [*rows[: pos + 1], forged, *rows[pos + 1 :]], relink=kind == "insert_relinked")
    elif kind == "duplicate":
        _rewrite(db, [*rows[: pos + 1], list(rows[pos]), *rows[pos + 1 :]], relink=False)
    elif kind == "reorder":
        other = (pos + 1 + b % (len(rows) - 1)) % len(rows)
        rows[pos], rows[other] = rows[other], rows[pos]
        _rewrite(db, rows, relink=b % 2 == 0)
    elif kind == "truncate":
        db.execute("DELETE FROM records WHERE seq > ?", (pos,))
    elif kind == "unknown_key":
        intruder = Ed25519PrivateKey.generate()
        head = rows[-1][6]
        sig = intruder.sign(chain.checkpoint_message(len(rows), head, "2026-11-24T06:00:00Z")).hex()
        db.execute(
            "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?, ?)",
            (len(rows), head, "2026-11-24T06:00:00Z", public_hex(intruder), sig),
        )
    db.commit()
    db.close()


@settings(max_examples=160, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), a=st.integers(0, 10_000), b=st.integers(0, 10_000))
def test_every_tampering_is_detected(kind: str, a: int, b: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = make_store(root, every=4)
        fill(store, N)
        snapshot = root / "old.db"
        if kind == "rollback":
            store.flush()
            shutil.copy(root / "audit.db", snapshot)  # an older, fully valid prefix ...
            fill(store, 6)  # ... then the chain grows and is checkpointed outside
        store.close()
        trusted = {store.public_key}
        assert verify(root / "audit.db", trusted=trusted, external_dir=root / "external").ok
        if kind == "rollback":
            for extra in ("audit.db-wal", "audit.db-shm"):
                (root / extra).unlink(missing_ok=True)
            shutil.copy(snapshot, root / "audit.db")
        else:
            tamper(root, kind, a, b)
        report = verify(root / "audit.db", trusted=trusted, external_dir=root / "external")
        assert not report.ok, (kind, a, b)
        assert report.first_bad_seq is not None


_VALUE = st.one_of(
    st.none(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=20), st.binary(max_size=20), st.floats()
)


@settings(max_examples=80, deadline=None)
@given(field=st.sampled_from(["seq", *FIELDS]), value=_VALUE, blob=st.binary(max_size=200))
def test_the_verifier_never_crashes_and_never_accepts_garbage(field: str, value: Any, blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = make_store(root, every=4)
        fill(store, 6)
        store.close()
        db = sqlite3.connect(root / "audit.db")
        original = db.execute(f"SELECT {field} FROM records WHERE seq = 3").fetchone()[0]  # noqa: S608
        if value == original or (field == "seq" and value in (3,)):
            value = None
        with contextlib.suppress(sqlite3.IntegrityError):  # SQLite refuses some values (a NULL rowid)
            db.execute(f"UPDATE records SET {field} = ? WHERE seq = 3", (value,))  # noqa: S608
        db.commit()
        changed = db.execute("SELECT count(*) FROM records WHERE seq = 3").fetchone()[0] == 0 or (
            db.execute(f"SELECT {field} FROM records WHERE seq = 3").fetchone()[0] != original  # noqa: S608
        )
        db.close()
        (root / "external" / "checkpoint-999999999999.json").write_bytes(blob)
        report = verify(root / "audit.db", trusted={store.public_key}, external_dir=root / "external")
        # The garbage file is one finding of its own; the record's change is judged apart from it.
        assert [seq for seq, _ in report.problems].count(0) == 1
        assert any(seq >= 1 for seq, _ in report.problems) == changed
