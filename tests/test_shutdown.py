"""SIGTERM and SIGINT end a real server process cleanly on every transport: a call in flight
finishes, and the audit chain gets its final checkpoint (no unsigned tail is left behind)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.sse import sse_client

from tests.engines import Setup, configured_engine
from tests.test_transports import _free_port, _start

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


GRACE = {"RESYNC_SERVER__SHUTDOWN_GRACE_S": "5"}


async def _received(sim_port: int, at_least: int) -> None:
    """Wait until the engine has the request: then the call is surely in flight in the server."""
    async with httpx.AsyncClient() as http:
        info = f"http://127.0.0.1:{sim_port}/_sim/info"
        # Another process's counter: there is no event to wait on.
        while (await http.get(info)).json()["requestsReceived"] < at_least:  # noqa: ASYNC110
            await anyio.sleep(0.01)


def _verify(lab: Setup) -> str:
    out = lab.cli("audit", "verify")
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@pytest.mark.parametrize(
    ("transport", "sig"),
    [("http", signal.SIGTERM), ("http", signal.SIGINT), ("sse", signal.SIGTERM)],
    ids=["http-SIGTERM", "http-SIGINT", "sse-SIGTERM"],
)
async def test_http_server_finishes_the_call_in_flight_and_signs_its_head(
    tmp_path: Path, transport: str, sig: signal.Signals
) -> None:
    with configured_engine(tmp_path, jobs=50, faults={"latency_ms": 600}, toml="") as lab:
        env = lab.env | GRACE
        port = _free_port()
        args = ["--config", str(lab.config), "serve", "--transport", transport, "--port", str(port)]
        server = _start(args, lab.work, env)
        url = f"http://127.0.0.1:{port}/mcp" if transport == "http" else sse_client(f"http://127.0.0.1:{port}/sse")
        try:  # a slow call is in flight in the server when the signal comes; it must still be answered
            with anyio.fail_after(30):
                async with Client(url) as mcp:
                    await mcp.call_tool("list_workstations", {})
                    async with anyio.create_task_group() as tg:
                        results = []

                        async def slow_call() -> None:
                            results.append(await mcp.call_tool("list_prompts", {}))

                        tg.start_soon(slow_call)
                        await _received(lab.port, 2)
                        server.send_signal(sig)
                assert not results[0].is_error, results[0].content  # it finished within the grace period
                assert await anyio.to_thread.run_sync(lambda: server.wait(timeout=20)) == 0
        finally:
            server.kill()
    report = _verify(lab)
    assert "audit chain OK" in report and "follow the last checkpoint" not in report, report


def test_stdio_server_on_sigterm_signs_its_head(tmp_path: Path) -> None:
    with configured_engine(tmp_path, jobs=50, toml="") as lab:
        _sigterm_after_one_answer(lab)
    report = _verify(lab)
    assert "audit chain OK" in report and "follow the last checkpoint" not in report, report


def _sigterm_after_one_answer(lab: Setup) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "resync_mcp", "--config", str(lab.config), "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=lab.env | GRACE,
        cwd=str(lab.work),
    )
    init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "list_workstations", "arguments": {}}},
    ]
    answered = threading.Event()

    def until_answer() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if json.loads(line).get("id") == 2:
                answered.set()
                return

    try:
        assert proc.stdin is not None
        proc.stdin.write("".join(json.dumps(m) + "\n" for m in lines))
        proc.stdin.flush()
        threading.Thread(target=until_answer, daemon=True).start()
        assert answered.wait(timeout=30), "no answer to the tool call"
        proc.send_signal(signal.SIGTERM)  # stdin stays open: only the signal ends it
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
