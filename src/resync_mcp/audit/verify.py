"""Verify an audit chain without any key: every link, every checkpoint, local and external.

Detects a flipped bit anywhere in a record (its header, nonce, ciphertext with its tag, or
stored hash), deleted, inserted, duplicated and reordered records, truncation below a
checkpoint, rollback to an older prefix (checkpoints outside the database remember the
longer chain), and checkpoints with a bad signature or signed by a key that is not trusted.
Malformed input of any kind is a finding, never a crash and never an accept.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resync_mcp.audit import chain
from resync_mcp.audit.checkpoint import Opens
from resync_mcp.audit.crypto import verify_signature


@dataclass
class Report:
    records: int = 0
    checkpoints: int = 0
    attested: int = 0  # the highest seq a valid checkpoint covers
    problems: list[tuple[int, str]] = field(default_factory=list)  # (seq, what)
    # Not tampering, but gaps the server itself recorded: calls it could not write (``lost``).
    lost_at: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_seq(self) -> int | None:
        return min(s for s, _ in self.problems) if self.problems else None

    def summary(self) -> str:
        if self.ok:
            tail = self.records - self.attested
            note = f"; the last {tail} record(s) follow the last checkpoint (chained, not yet signed)" if tail else ""
            if self.lost_at:
                where = ", ".join(str(s) for s in self.lost_at[:5])
                note += f"; GAP: the server recorded that it could not store some calls (lost record at seq {where})"
            return f"audit chain OK: {self.records} records, {self.checkpoints} checkpoints verified{note}"
        seq = self.first_bad_seq
        first = next(what for s, what in sorted(self.problems) if s == seq)
        return f"audit chain BROKEN at seq {seq}: {first} ({len(self.problems)} problem(s))"


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError("not text")
    return v


def verify(db_path: Path, *, trusted: set[str], external_dir: Path | None = None, opens: Opens | None = None) -> Report:
    """Check the chain. With ``opens`` (the KEK is at hand) every ciphertext must also open, which
    catches a record forged and relinked by someone without the KEK past the last checkpoint."""
    report = Report()
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        rows = db.execute("SELECT seq, ts, kind, key_id, nonce, ct, hash FROM records ORDER BY rowid").fetchall()
        local_cps = db.execute("SELECT seq, head, ts, public_key, signature FROM checkpoints").fetchall()
        db.close()
    except sqlite3.Error as exc:
        report.problems.append((0, f"the database cannot be read: {exc}"))
        return report
    heads = _walk(rows, report, opens)
    cps: list[tuple[str, Any]] = [
        ("local", {"seq": r[0], "head": r[1], "ts": r[2], "public_key": r[3], "signature": r[4]}) for r in local_cps
    ]
    if external_dir is not None and external_dir.is_dir():
        for path in sorted(external_dir.glob("checkpoint-*.json")):
            try:
                cps.append((f"external {path.name}", json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError) as exc:
                report.problems.append((0, f"checkpoint file {path.name} is unreadable: {exc}"))
    last = len(heads)
    for where, cp in cps:
        _check_checkpoint(where, cp, heads, last, trusted, report)
    report.records = last
    return report


def _walk(rows: list[tuple[Any, ...]], report: Report, opens: Opens | None) -> list[str]:
    """The hash at each good position 1..n; stops at the first break (later links are moot)."""
    heads: list[str] = []
    prev = chain.GENESIS
    for expected, row in enumerate(rows, start=1):
        try:
            seq, ts, kind, key_id, nonce, ct, stored = row
            if not isinstance(seq, int) or isinstance(seq, bool):
                raise TypeError("seq is not an integer")
            body = {"seq": seq, "ts": _str(ts), "kind": _str(kind), "key_id": _str(key_id), "nonce": _str(nonce)}
            body["ct"] = _str(ct)
            computed = chain.link(prev, body)
        except (TypeError, ValueError, UnicodeError) as exc:
            report.problems.append((expected, f"record {expected} is malformed: {exc}"))
            return heads
        if seq != expected:
            what = "missing (deleted)" if seq > expected else "out of order or duplicated"
            report.problems.append((expected, f"record {expected} is {what}: found seq {seq}"))
            return heads
        if computed != stored:
            report.problems.append((expected, f"record {expected} was altered (its hash does not link)"))
            return heads
        if opens is not None and not opens(body):
            report.problems.append((expected, f"record {expected} does not open with the audit keys (forged)"))
            return heads
        heads.append(computed)
        prev = computed
        if kind == "lost":
            report.lost_at.append(seq)
    return heads


def authentic(where: str, cp: Any, trusted: set[str], report: Report) -> tuple[int, str] | None:
    """(seq, head) of a well-formed checkpoint signed by a trusted key; else None, the problem
    added to ``report``. What a checkpoint proves on its own, without the chain (audit/fleet.py)."""
    try:
        seq, head, ts = int(cp["seq"]), _str(cp["head"]), _str(cp["ts"])
        key, signature = _str(cp["public_key"]), _str(cp["signature"])
    except (KeyError, TypeError, ValueError) as exc:
        report.problems.append((0, f"{where} checkpoint is malformed: {exc}"))
        return None
    if key not in trusted:
        report.problems.append((seq, f"{where} checkpoint at {seq} is signed by an unknown key {key[:16]}…"))
        return None
    if not verify_signature(key, chain.checkpoint_message(seq, head, ts), signature):
        report.problems.append((seq, f"{where} checkpoint at {seq} has a bad signature"))
        return None
    return seq, head


def _check_checkpoint(where: str, cp: Any, heads: list[str], last: int, trusted: set[str], report: Report) -> None:
    found = authentic(where, cp, trusted, report)
    if found is None:
        return
    seq, head = found
    if seq > last:
        report.problems.append(
            (last + 1, f"truncated or rolled back: {where} checkpoint covers {seq}, chain ends at {last}")
        )
        return
    if seq < 1 or heads[seq - 1] != head:
        report.problems.append((max(seq, 1), f"{where} checkpoint at {seq} does not match the chain (rewritten)"))
        return
    report.checkpoints += 1
    report.attested = max(report.attested, seq)
