"""A hung engine over a real socket: every call ends with a clear timeout and nothing leaks.

The simulator runs as its own process with ``--faults '{"hang": true}'``: its handlers never
answer. The only wait is the server's own total timeout (0.2 s), which is what is under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from mcp import Client

from resync_mcp.app import build_app
from resync_mcp.config import Settings, load_settings
from tests.test_transports import _free_port, _start

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts sockets through /proc"),
]


def open_sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed between listdir and readlink
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


async def no_sleep(seconds: float) -> None:
    return None


@contextmanager
def hung_engine(tmp_path: Any, **resilience: float) -> Iterator[Settings]:
    """A simulator process whose handlers never answer, and settings that name it."""
    port = _free_port()
    proc = _start(["simulator", "--port", str(port), "--jobs", "30", "--faults", '{"hang": true}'], tmp_path)
    try:
        engines = {"lab": {"base_url": f"http://127.0.0.1:{port}", "auth": "none"}}
        yield load_settings(None, {"engines": engines, "resilience": resilience})
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_hung_engine_times_out_and_leaves_no_tasks_or_sockets(tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    with hung_engine(tmp_path, total_timeout_s=0.2, retry_attempts=2, breaker_threshold=100) as settings:
        sockets_before, tasks_before = open_sockets(), set(asyncio.all_tasks())
        app = build_app(settings, sleep=no_sleep)
        await app.start()
        try:
            async with Client(app.server) as mcp:
                calls = [
                    ("list_workstations", {}),
                    ("find_jobs", {"status": ["ERROR"]}),
                    ("find_jobs", {"status": ["EXEC"]}),
                    ("get_job", {"job": "00000000-0000-0000-0000-000000000001"}),
                    ("list_prompts", {}),
                ]
                results = await asyncio.gather(*(mcp.call_tool(t, a) for t, a in calls))
                texts = [r.content[0].text for r in results]  # type: ignore[union-attr]
                assert all(r.is_error for r in results)
                assert all("timed out" in t and "Traceback" not in t for t in texts), texts
                assert app.engines.get("lab").requests_made >= len(calls)  # each really reached the engine
                # The timed-out requests closed their connections; nothing waits on the engine.
                assert open_sockets() == sockets_before
        finally:
            await app.aclose()
        assert open_sockets() == sockets_before
        leftover = {t for t in asyncio.all_tasks() - tasks_before if not t.done()} - {asyncio.current_task()}
        assert not leftover, leftover


async def test_one_deadline_covers_retries_and_two_timeouts_open_the_breaker(tmp_path: Any, monkeypatch: Any) -> None:
    """Real time on purpose: the retry policy would wait 0.2-0.4 s between three attempts, yet
    each answer must come within the 0.3 s deadline (+25%); then the breaker stops sending."""
    monkeypatch.chdir(tmp_path)
    with hung_engine(tmp_path, total_timeout_s=0.3, retry_attempts=3, retry_base_s=0.05) as settings:
        app = build_app(settings)
        await app.start()
        try:
            async with Client(app.server) as mcp:
                waits = []
                for _ in range(2):
                    started = time.monotonic()
                    result = await mcp.call_tool("list_workstations", {})
                    waits.append(time.monotonic() - started)
                    assert result.is_error and "timed out" in result.content[0].text  # type: ignore[union-attr]
                assert max(waits) <= 0.3 * 1.25, waits
                sent = app.engines.get("lab").requests_made
                assert sent == 2  # one attempt each: no retry fits in what the deadline leaves
                started = time.monotonic()
                third = await mcp.call_tool("list_prompts", {})
                assert time.monotonic() - started < 0.1 and third.is_error
                assert "not answering" in third.content[0].text or "breaker" in third.content[0].text.lower()  # type: ignore[union-attr]
                assert app.engines.get("lab").requests_made == sent  # refused without sending
        finally:
            await app.aclose()
