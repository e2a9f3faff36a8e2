"""The group commit runs in a worker thread (app.py): while it commits, calls on the event loop
go on appending without waiting for it, and every record lands in the chain, in order. (A
subject's very first record does wait: its data key is created in the database.)"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anyio
import pytest

from resync_mcp.audit.verify import verify
from tests.audit.helpers import make_store, trusted

pytestmark = pytest.mark.anyio


async def test_appends_go_on_while_a_commit_runs_in_a_worker(tmp_path: Path) -> None:
    store = make_store(tmp_path, every=1000)
    store._group_max = 1000  # only the explicit flush commits here
    store.append("call", "alice", {"n": 0}, durable=False)
    committing, release, committed = threading.Event(), threading.Event(), threading.Event()
    original = store._write

    def slow_write(entries: Any) -> Any:  # a slow disk: the commit takes its time
        committing.set()
        release.wait(10)
        try:
            return original(entries)
        finally:
            committed.set()

    store._write = slow_write  # type: ignore[method-assign]
    async with anyio.create_task_group() as tg:
        tg.start_soon(anyio.to_thread.run_sync, store.flush)
        await anyio.to_thread.run_sync(committing.wait, 10)
        for n in range(1, 6):  # on the loop, during the commit (alice's key is known: no database)
            store.append("call", "alice", {"n": n}, durable=False)
        assert not committed.is_set()  # the appends did not wait for the commit
        release.set()
    store._write = original  # type: ignore[method-assign]
    store.flush()
    report = verify(store.path, trusted=trusted(store), opens=store.opens)
    assert report.ok and report.records == 6
    store.close()


def test_a_full_batch_wakes_the_committer_instead_of_committing_on_the_callers_thread(tmp_path: Path) -> None:
    store = make_store(tmp_path, every=1000)
    store._group_max = 4
    store.append("call", "alice", {"n": 0}, durable=False)  # alice's data key exists from here on
    store.flush()
    kicks: list[int] = []
    store.kick = lambda: kicks.append(len(store._pending))
    for n in range(1, 9):
        store.append("call", "alice", {"n": n}, durable=False)
    assert kicks == [4]  # woken once, when the batch filled; nothing committed on this thread
    assert len(store._pending) == 8
    store.flush()  # what the committer does when woken
    for n in range(9, 11):
        store.append("call", "alice", {"n": n}, durable=False)
    assert kicks == [4]  # not yet due again
    store.kick = None
    for n in range(11, 13):  # no committer: the caller commits the full batch itself
        store.append("call", "alice", {"n": n}, durable=False)
    assert store._pending == []
    report = verify(store.path, trusted=trusted(store), opens=store.opens)
    assert report.ok and report.records == 13
    store.close()


def test_a_record_is_encoded_at_its_commit_and_an_odd_value_does_not_fail_the_batch(tmp_path: Path) -> None:
    store = make_store(tmp_path, every=1000)
    store._group_max = 1000
    store.append("call", "alice", {"n": 1}, durable=False)
    store.append("call", "alice", {"n": 2, "odd": object()}, durable=False)  # no JSON form: written as text
    store.append("call", "alice", {"n": 3}, durable=False)
    assert all(isinstance(e.plaintext, dict) for e in store._pending)  # not encoded on the caller's thread
    store.flush()
    report = verify(store.path, trusted=trusted(store), opens=store.opens)
    assert report.ok and report.records == 3
    store.close()
