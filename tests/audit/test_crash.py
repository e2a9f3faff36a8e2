"""kill -9 a real server in the middle of a burst of calls, many times: after every restart
the chain verifies, and every action the client saw acknowledged has its durable intent.

No sleeps: the kill comes after a seeded number of acknowledged calls, with others in flight.
"""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from resync_mcp.audit import setup
from resync_mcp.audit.reader import Filter, entries
from resync_mcp.clock import SystemClock
from resync_mcp.config import AuditSettings
from tests.test_transports import _free_port, _start

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
ROUNDS = 6


async def burst(url: str, proc: Any, kill_after: int, rng: random.Random, acked: set[str]) -> None:
    """Readers and actors in parallel; SIGKILL the server once ``kill_after`` calls were answered."""
    answered = 0
    async with Client(url) as mcp:
        held = await mcp.call_tool("find_jobs", {"status": ["HOLD"], "limit": 20})
        jobs = [j["id"] for j in (held.structured_content or {})["jobs"]]

    async def worker(n: int) -> None:
        nonlocal answered
        try:
            async with Client(url) as mcp:
                for _ in range(50):
                    if n % 2:
                        key = f"k{rng.getrandbits(48):x}"
                        args = {"job": rng.choice(jobs), "priority": rng.randint(1, 90), "idempotency_key": key}
                        result = await mcp.call_tool("set_job_priority", args)
                        if not result.is_error and (result.structured_content or {}).get("outcome") == "done":
                            acked.add(key)
                    else:
                        await mcp.call_tool("plan_summary", {})
                    answered += 1
                    if answered >= kill_after and proc.poll() is None:
                        os.kill(proc.pid, signal.SIGKILL)
        except Exception:  # the server died under us: exactly what this test does
            return

    async with anyio.create_task_group() as tg:
        for n in range(6):
            tg.start_soon(worker, n)


async def test_kill_minus_nine_during_bursts_leaves_a_valid_chain(tmp_path: Path) -> None:
    rng = random.Random(1124)
    audit = AuditSettings()  # the default, the same user data folder the server process uses
    acked: set[str] = set()
    for _ in range(ROUNDS):
        port = _free_port()
        proc = _start(["serve", "--demo", "--demo-jobs", "300", "--transport", "http", "--port", str(port)], tmp_path)
        try:
            await burst(f"http://127.0.0.1:{port}/mcp", proc, rng.randint(3, 60), rng, acked)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
        # Restart the store as the server would, then check what the crash left.
        store = setup.open_store(audit, SystemClock())
        try:
            intents = {e.get("idempotency_key") for e in entries(store, Filter()) if e["kind"] == "intent"}
        finally:
            store.close()
        assert setup.run_verify(audit, out=lambda s: None) == 0
        assert acked <= intents, acked - intents  # no acknowledged action without its durable intent
    assert acked  # the bursts did act
