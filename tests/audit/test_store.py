"""The store: append, group commit, checkpoints, rotation, shredding, failure, damage."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resync_mcp.audit.reader import Filter, entries, render_line
from resync_mcp.audit.redact import redact
from resync_mcp.audit.store import AuditStore, AuditUnavailable
from resync_mcp.audit.verify import verify
from resync_mcp.clock import FakeClock
from tests.audit.helpers import fill, make_store, trusted


def test_a_filled_chain_verifies_with_its_checkpoints_inside_and_outside(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    fill(store, 23)
    report = verify(store.path, trusted=trusted(store), external_dir=tmp_path / "external")
    assert report.ok, report.problems
    external = list((tmp_path / "external").glob("checkpoint-*.json"))
    assert len(external) >= 3  # about every 5 records, at commit boundaries
    assert report.records == 23 and report.checkpoints == 2 * len(external)  # each is local and external


def test_read_records_wait_for_a_group_commit_durable_ones_do_not(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.append("call", "a", {"n": 1}, durable=False)
    db = sqlite3.connect(store.path)
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 0  # waiting in the group
    store.append("intent", "a", {"n": 2}, durable=True)
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 2  # committed together, in order


def test_payloads_are_encrypted_and_read_back_with_the_key(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.append("call", "alice", {"tool": "kill_job", "arguments": {"job": "PAYROLL_01"}}, durable=True)
    raw = (tmp_path / "audit.db").read_bytes() + (tmp_path / "audit.db-wal").read_bytes()
    assert b"PAYROLL_01" not in raw and b"kill_job" not in raw
    [entry] = entries(store, Filter())
    assert entry["arguments"] == {"job": "PAYROLL_01"}


def test_rotation_starts_new_keys_and_old_records_still_read(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.append("call", "alice", {"tool": "a"}, durable=True)
    assert store.rotate_key() == 2
    store.append("call", "alice", {"tool": "b"}, durable=True)
    got = list(entries(store, Filter()))
    assert [e["kind"] for e in got] == ["call", "rotation", "call"] and got[0]["tool"] == "a" and got[2]["tool"] == "b"
    ids = [r[0] for r in sqlite3.connect(store.path).execute("SELECT key_id FROM records ORDER BY seq")]
    assert ids[0] != ids[2] and ids[0].endswith(".1") and ids[2].endswith(".2")
    assert verify(store.path, trusted=trusted(store)).ok


def test_shredding_a_subject_makes_its_records_unreadable_and_the_chain_still_verifies(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.append("call", "alice", {"tool": "secret-of-alice"}, durable=True)
    store.append("call", "bob", {"tool": "bobs"}, durable=True)
    store.rotate_key()
    store.append("call", "alice", {"tool": "later-alice"}, durable=True)
    assert store.shred("alice") == 2  # both epochs
    store.close()
    reopened = AuditStore(store.path, store._kek, store._signer, FakeClock()).open()
    got = list(entries(reopened, Filter()))
    assert got[0] == {"seq": 1, "ts": got[0]["ts"], "kind": "call", "shredded": True}
    assert got[1]["tool"] == "bobs" and got[3].get("shredded") is True and got[-1]["kind"] == "shred"
    assert verify(store.path, trusted=trusted(store), external_dir=tmp_path / "external").ok


def test_a_write_failure_drops_and_counts_then_the_gap_is_in_the_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store(tmp_path)
    fill(store, 3)

    def disk_full(rows: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "_write", disk_full)
    with pytest.raises(AuditUnavailable) as info:
        store.append("intent", "a", {"x": 1}, durable=True)
    assert "disk is full" in str(info.value) and not store.healthy and store.stats.dropped == 1
    assert store.status()["last_error"] and not store.status()["healthy"]
    monkeypatch.undo()
    seq = store.append("intent", "a", {"x": 2}, durable=True)
    assert store.healthy and seq == 5  # a `lost` record went first, at seq 4
    lost = [e for e in entries(store, Filter()) if e["kind"] == "lost"]
    assert lost == [{**lost[0], "records": 1}] and "disk is full" in lost[0]["error"]
    report = verify(store.path, trusted=trusted(store))
    assert report.ok and report.lost_at == [4] and "GAP" in report.summary()


def _tamper_last(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("UPDATE records SET ct = substr(ct, 1, 10) WHERE seq = (SELECT max(seq) FROM records)")
    db.commit()
    db.close()


def test_a_record_that_does_not_link_is_reported_never_deleted_or_signed(tmp_path: Path) -> None:
    store = make_store(tmp_path, every=100)
    fill(store, 4)
    assert store._db is not None
    store._db.close()  # a crash: no clean shutdown, no final checkpoint
    store._db = None
    _tamper_last(store.path)
    for readonly in (True, False):  # `audit show`, then a server
        reopened = AuditStore(store.path, store._kek, store._signer, FakeClock()).open(readonly=readonly)
        assert reopened.status()["chain_damaged_at"] == 4
        reopened.close()
    db = sqlite3.connect(store.path)
    assert db.execute("SELECT count(*) FROM records").fetchone() == (4,)  # nothing deleted
    assert db.execute("SELECT count(*) FROM checkpoints").fetchone() == (0,)  # nothing signed over it
    db.close()
    report = verify(store.path, trusted=trusted(store), external_dir=tmp_path / "external")
    assert not report.ok and report.first_bad_seq == 4


def test_show_lines_cannot_be_forged_by_hostile_names(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    hostile = 'JOB\n       2 2026-01-01T00:00:00Z call      tool="fake"\x1b[2J\u202e'
    store.append("call", "a", {"tool": "get_job", "arguments": {"job": hostile}}, durable=True)
    [line] = [render_line(e) for e in entries(store, Filter())]
    assert "\n" not in line and "\x1b" not in line and "\u202e" not in line and "\\u001b" in line


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=300), key=st.text(min_size=1, max_size=30))
def test_hostile_strings_round_trip_and_render_on_one_line(text: str, key: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = make_store(Path(tmp))
        store.append("call", text or "x", {"tool": "get_job", "arguments": {key: text}}, durable=True)
        [entry] = list(entries(store, Filter()))
        shown = render_line(entry)
        assert "\n" not in shown and "\r" not in shown and "\x1b" not in shown
        store.close()
        assert verify(store.path, trusted=trusted(store)).ok
        assert entry["arguments"] == {key: text}  # stored and read back exactly, whatever it holds


def test_secrets_are_redacted_before_they_are_recorded() -> None:
    args = {
        "job": "A",
        "password": "hunter2",
        "nested": {"api_key": "k", "note": "Authorization: Bearer abcdefghijklmnop"},
        "confirmation_token": "ct_xyz",
        "text": "x" * 5000,
    }
    out = redact(args)
    assert out["job"] == "A" and out["password"] == "[redacted]" and out["confirmation_token"] == "[redacted]"
    assert out["nested"]["api_key"] == "[redacted]" and "abcdefghijklmnop" not in out["nested"]["note"]
    assert len(out["text"]) < 2100


@given(
    st.text(
        alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-_./:=@ \t\"'eyJp&;,#")),
        max_size=80,
    )
)
@settings(max_examples=600, deadline=None)
def test_redaction_skips_only_text_that_cannot_hold_a_secret(text: str) -> None:
    """The shortcut for plain text (ids, names) gives what the four substitutions give."""
    from resync_mcp.audit import redact as r

    assert r.redact_text(text) == r._redact_all(text)
    for secret in ("Bearer abcdef123", "password=x1", "eyJhbGciOiJ.eyJzdWIi.sig", "-pSecret", "https://u:pw@h/"):
        assert r.redact_text(text + " " + secret) == r._redact_all(text + " " + secret)
