"""Several servers on one data folder: one chain, every call recorded, nothing lost.

Claude Desktop and an IDE each start ``resync-mcp serve`` in the same folder. Sequence
numbers are assigned inside SQLite's write lock, so their records interleave in one chain.
"""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from mcp import Client

from resync_mcp.audit.reader import Filter, entries
from resync_mcp.audit.store import AuditStore
from resync_mcp.audit.verify import verify
from resync_mcp.clock import FakeClock
from tests.audit.helpers import make_store, trusted
from tests.conftest import call
from tests.engines import Setup, configured_engine


def test_two_stores_on_one_file_interleave_group_commits_in_one_chain(tmp_path: Path) -> None:
    a = make_store(tmp_path, every=7)
    b = AuditStore(a.path, a._kek, a._signer, FakeClock(), checkpoint_every=7, external_dir=tmp_path / "external")
    b.open()
    for i in range(40):  # a's and b's group commits (4 records) and durable appends alternate
        a.append("call", "alice", {"i": i, "by": "a"}, durable=i % 9 == 0)
        b.append("call", "bob", {"i": i, "by": "b"}, durable=i % 5 == 0)
    a.close()
    b.close()
    report = verify(a.path, trusted=trusted(a), external_dir=tmp_path / "external")
    assert report.ok and report.records == 80, report.problems
    reader = AuditStore(a.path, a._kek, a._signer, FakeClock()).open(readonly=True)
    got = [(e["by"], e["i"]) for e in entries(reader, Filter()) if e["kind"] == "call"]
    assert sorted(got) == sorted([("a", i) for i in range(40)] + [("b", i) for i in range(40)])
    assert [i for by, i in got if by == "b"] == list(range(40))  # each process's order is kept


@pytest.mark.anyio
@pytest.mark.slow
async def test_two_stdio_servers_on_one_folder_record_every_call(tmp_path: Path) -> None:
    held: list[str] = []
    operator = '[security]\ntoolsets = ["read", "operate"]\nrole = "operator"\n'

    async def assistant(lab: Setup, name: str) -> None:
        async with Client(lab.stdio()) as mcp:
            # the latest scheduled: none of them starts (and refuses a hold) while the test runs
            latest = {"status": ["WAITING", "READY"], "limit": 20, "sort": "-sched_time"}
            waiting = await call(mcp, "find_jobs", latest)
            for i in range(7):
                await call(mcp, "get_job", {"job": waiting["jobs"][i]["id"]})
            args = {"job": waiting["jobs"][10 if name == "ide" else 11]["id"], "reason": f"{name} holds"}
            first = await call(mcp, "hold_job", args)
            assert first["outcome"] == "done", first  # hold is reversible: no confirmation for an operator
            held.append(name)

    with configured_engine(tmp_path, jobs=300, seed=3, toml=operator) as lab:
        with anyio.fail_after(120):
            async with anyio.create_task_group() as tg:
                tg.start_soon(assistant, lab, "desktop")
                tg.start_soon(assistant, lab, "ide")
    assert sorted(held) == ["desktop", "ide"]
    verified = lab.cli("audit", "verify")
    assert verified.returncode == 0 and "audit chain OK" in verified.stdout, verified.stdout + verified.stderr
    exported = lab.cli("audit", "export")
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    calls = [r for r in records if r["kind"] in ("call", "outcome")]
    kinds = "; ".join(f"{r['kind']} {r.get('tool')} {r.get('outcome')}" for r in records)
    assert len(calls) == 2 * (1 + 7 + 1), kinds  # every call of both, none lost
    assert len([r for r in records if r["kind"] == "intent"]) == 2
    assert not [r for r in records if r["kind"] == "lost"]
