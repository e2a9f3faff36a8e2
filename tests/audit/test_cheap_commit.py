"""The commit's shortcuts keep the chain's guarantees: the row bytes are the canonical JSON, a
checkpoint skips only records this process sealed and that are unchanged, and shredding leaves
no cipher behind."""

from __future__ import annotations

import base64
import os
import sqlite3
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from resync_mcp.audit import chain
from resync_mcp.audit import crypto as c
from resync_mcp.audit.reader import Filter, entries
from resync_mcp.clock import FakeClock
from tests.audit.helpers import make_store

_text = st.one_of(st.text(max_size=40), st.text(alphabet='AB+/=z09_-.:|"\\ \t\né', max_size=40))


@given(seq=st.one_of(st.integers(-(2**70), 2**70), st.booleans()), values=st.tuples(*[_text] * 5))
def test_row_bytes_are_the_canonical_json_of_the_row_whatever_it_holds(seq: int, values: tuple[str, ...]) -> None:
    row = dict(zip(("ts", "kind", "key_id", "nonce", "ct"), values, strict=True), seq=seq)
    assert chain.row_bytes(row) == chain.canonical({k: row[k] for k in chain.ROW_FIELDS})


def test_the_usual_row_takes_the_direct_format_and_agrees() -> None:
    nonce, ct = c.seal(os.urandom(32), 7, "ab12.1", b'{"tool":"get_job"}', "call|2026-11-30T09:00:00.000000Z")
    row = {"seq": 7, "ts": "2026-11-30T09:00:00.000000Z", "kind": "call", "key_id": "ab12.1", "nonce": nonce, "ct": ct}
    assert chain.row_bytes(row) == chain.canonical(row)
    assert chain.link(chain.GENESIS, row) != chain.link(chain.GENESIS, {**row, "seq": 8})


def _forge_last(path: Path) -> None:
    """Replace the last record's ciphertext and relink its hash, as a forger without the KEK can."""
    db = sqlite3.connect(path)
    seq = db.execute("SELECT max(seq) FROM records").fetchone()[0]
    prev = db.execute("SELECT hash FROM records WHERE seq = ?", (seq - 1,)).fetchone()[0]
    row = dict(
        zip(
            chain.ROW_FIELDS,
            db.execute("SELECT seq, ts, kind, key_id, nonce, ct FROM records WHERE seq = ?", (seq,)).fetchone(),
            strict=True,
        )
    )
    row["ct"] = base64.b64encode(os.urandom(40)).decode()
    db.execute("UPDATE records SET ct = ?, hash = ? WHERE seq = ?", (row["ct"], chain.link(prev, row), seq))
    db.commit()
    db.close()


def test_a_relinked_forgery_of_our_own_record_is_not_signed(tmp_path: Path) -> None:
    """The checkpoint skips decrypting records it sealed itself only while they are unchanged:
    a record rewritten in the database after its commit (and relinked) is decrypted, fails, and
    the checkpoint is refused."""
    store = make_store(tmp_path, every=1000)
    for i in range(6):
        store.append("call", "alice", {"i": i}, durable=False)
    store.flush()
    _forge_last(store.path)
    assert store.checkpoint() is None
    assert store.status()["chain_damaged_at"] == 6


def test_a_record_relinked_onto_a_changed_predecessor_is_caught(tmp_path: Path) -> None:
    """A record before ours rewritten and relinked: the shortcut for our records (their saved row
    must follow the same previous hash) never carries the walk past it."""
    store = make_store(tmp_path, every=1000)
    for i in range(3):
        store.append("call", "alice", {"i": i}, durable=False)
    store.flush()
    db = sqlite3.connect(store.path)
    row = dict(
        zip(
            chain.ROW_FIELDS,
            db.execute("SELECT seq, ts, kind, key_id, nonce, ct FROM records WHERE seq = 2").fetchone(),
            strict=True,
        )
    )
    prev = db.execute("SELECT hash FROM records WHERE seq = 1").fetchone()[0]
    row["ts"] = "2001-01-01T00:00:00.000000Z"
    db.execute("UPDATE records SET ts = ?, hash = ? WHERE seq = 2", (row["ts"], chain.link(prev, row)))
    db.commit()
    db.close()
    assert store.checkpoint() is None
    assert store.status()["chain_damaged_at"] in (2, 3)  # the changed header does not open; or 3 stops linking


def test_records_sealed_by_another_process_are_still_decrypted_before_signing(tmp_path: Path) -> None:
    ours = make_store(tmp_path, every=1000)
    ours.append("call", "alice", {"i": 0}, durable=True)
    other = type(ours)(ours.path, ours._kek, ours._signer, ours._clock, checkpoint_every=1000).open()
    other.append("call", "bob", {"i": 1}, durable=True)
    other.close()
    _forge_last(ours.path)  # the last record is the other process's checkpoint-free tail
    assert ours.checkpoint() is None


def test_shredding_clears_the_kept_ciphers(tmp_path: Path) -> None:
    c.forget_keys()
    store = make_store(tmp_path)
    store.append("call", "alice", {"tool": "a"}, durable=True)
    store.rotate_key()  # the system's record: its key's cipher is kept too
    store.append("call", "alice", {"tool": "b"}, durable=True)
    assert c._sealer.cache_info().currsize == 3  # alice's two epochs and the system's
    store.shred("alice")
    assert c._sealer.cache_info().currsize == 1  # only the system's, which sealed the shred record since
    assert [e.get("tool") for e in entries(store, Filter()) if e["kind"] == "call"] == [None, None]


def test_a_deferred_payload_is_made_at_the_commit_and_dated_when_the_call_was(tmp_path: Path) -> None:
    """A read call's payload is put together by the committer; its time is the call's, not the
    commit's, and what it holds is what the call saw."""
    clock = FakeClock()
    store = make_store(tmp_path, clock=clock)
    made: list[str] = []

    def payload() -> dict[str, object]:
        made.append("now")
        return {"tool": "get_job", "arguments": {"job": "PAY.J1"}}

    when = clock.now()
    store.append("call", "alice", payload, durable=False)
    assert made == []  # nothing made on the caller's path
    clock.advance(30)
    store.flush()
    assert made == ["now"]
    (record,) = [e for e in entries(store, Filter()) if e["kind"] == "call"]
    assert record["tool"] == "get_job" and record["arguments"] == {"job": "PAY.J1"}
    assert record["ts"] == when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_a_payload_that_cannot_be_made_still_records_the_call_and_its_batch(tmp_path: Path) -> None:
    store = make_store(tmp_path)

    def broken() -> dict[str, object]:
        raise ValueError("boom")

    store.append("call", "alice", {"tool": "a"}, durable=False)
    store.append("call", "alice", broken, durable=False)
    store.append("call", "alice", {"tool": "c"}, durable=False)
    store.flush()
    calls = [e for e in entries(store, Filter()) if e["kind"] == "call"]
    assert [e.get("tool") for e in calls] == ["a", None, "c"]
    assert calls[1]["error"] == "payload unavailable: ValueError"
    assert store.status()["dropped"] == 0


def test_a_batch_seals_every_record_with_its_own_nonce(tmp_path: Path) -> None:
    drawn = c.nonces(500)
    assert len(set(drawn)) == 500 and {len(n) for n in drawn} == {12}
    store = make_store(tmp_path, every=10_000)
    for i in range(64):
        store.append("call", "alice", {"i": i}, durable=False)
    store.flush()
    db = sqlite3.connect(store.path)
    nonces = [r[0] for r in db.execute("SELECT nonce FROM records")]
    db.close()
    assert len(nonces) == 64 and len(set(nonces)) == 64
    assert [e["i"] for e in entries(store, Filter()) if e["kind"] == "call"] == list(range(64))
