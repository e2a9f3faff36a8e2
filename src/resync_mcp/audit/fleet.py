"""Audit across a fleet: each replica keeps its own chain (its id in every record) and exports
its signed checkpoints, with its public key, to its own folder under one shared location
(``audit.external_dir`` / ``audit.replica_id``). ``resync-mcp audit verify-fleet`` checks every
replica folder found there: with the replica's chain at hand (``--chains``), every link and
checkpoint; without it, that each exported checkpoint is authentic and that no sequence number
was signed with two different heads (a rewritten history shows as a fork).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

from resync_mcp.audit.verify import Report, authentic, verify

KEY_FILE = "public_key"


def publish_key(folder: Path, public_hex: str) -> None:
    """The replica's checkpoint key beside its checkpoints, written once (never replaced)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / KEY_FILE
    if not path.exists():
        path.write_text(public_hex + "\n", encoding="utf-8")


def replica_folders(shared: Path) -> Iterator[Path]:
    if shared.is_dir():
        yield from sorted(p for p in shared.iterdir() if p.is_dir() and any(p.glob("checkpoint-*.json")))


def verify_checkpoints(folder: Path, trusted: set[str]) -> Report:
    """Each exported checkpoint authentic, and no sequence number signed with two heads."""
    report, heads = Report(), dict[int, str]()
    for path in sorted(folder.glob("checkpoint-*.json")):
        try:
            cp = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            report.problems.append((0, f"checkpoint file {path.name} is unreadable: {exc}"))
            continue
        found = authentic(f"file {path.name}:", cp, trusted, report)
        if found is None:
            continue
        seq, head = found
        if heads.setdefault(seq, head) != head:
            report.problems.append((seq, f"two checkpoints at {seq} sign different heads (history rewritten)"))
        else:
            report.checkpoints += 1
            report.attested = report.records = max(report.attested, seq)
    return report


def verify_fleet(
    shared: Path, *, trusted: set[str], chains: Path | None, db_name: str, out: Callable[[str], None] = print
) -> int:
    """Verify every replica folder under ``shared``; 0 all sound, 1 a problem, 2 nothing found."""
    found = bad = 0
    for folder in replica_folders(shared):
        found += 1
        key_file = folder / KEY_FILE
        keys = trusted or ({key_file.read_text(encoding="utf-8").strip()} if key_file.exists() else set())
        db = chains / folder.name / db_name if chains is not None else None
        if db is not None and db.exists():
            report, what = verify(db, trusted=keys, external_dir=folder), ""
        else:
            report, what = verify_checkpoints(folder, keys), " (checkpoints only: its chain is not at hand)"
        text = report.summary().replace("records", "records" if not what else "signed records")
        out(f"{folder.name}: {text}{what}")
        for seq, problem in sorted(report.problems)[:10]:
            out(f"  seq {seq}: {problem}")
        bad += not report.ok
    if not found:
        out(f"no replica checkpoints under {shared}")
        return 2
    return 1 if bad else 0
