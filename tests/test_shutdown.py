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

from tests.test_transports import _env, _free_port, _start

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _setup(tmp_path: Path, latency_ms: int) -> tuple[subprocess.Popen[str], int, Path, dict[str, str], Path]:
    sim_port = _free_port()
    sim = _start(
        ["simulator", "--port", str(sim_port), "--jobs", "50", "--faults", json.dumps({"latency_ms": latency_ms})],
        tmp_path,
    )
    config = tmp_path / "resync.toml"
    config.write_text(f'[engines.lab]\nbase_url = "http://127.0.0.1:{sim_port}"\nauth = "basic"\nusername = "u"\n')
    work = tmp_path / "work"
    work.mkdir()
    env = {**_env(), "RESYNC_ENGINES__LAB__PASSWORD": "p", "RESYNC_SERVER__SHUTDOWN_GRACE_S": "5"}
    return sim, sim_port, config, env, work


async def _received(sim_port: int, at_least: int) -> None:
    """Wait until the engine has the request: then the call is surely in flight in the server."""
    async with httpx.AsyncClient() as http:
        info = f"http://127.0.0.1:{sim_port}/_sim/info"
        # Another process's counter: there is no event to wait on.
        while (await http.get(info)).json()["requestsReceived"] < at_least:  # noqa: ASYNC110
            await anyio.sleep(0.01)


def _verify(work: Path, env: dict[str, str], config: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "resync_mcp", "--config", str(config), "audit", "verify"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
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
    sim, sim_port, config, env, work = _setup(tmp_path, latency_ms=600)
    port = _free_port()
    server = _start(["--config", str(config), "serve", "--transport", transport, "--port", str(port)], work, env)
    url = f"http://127.0.0.1:{port}/mcp" if transport == "http" else sse_client(f"http://127.0.0.1:{port}/sse")
    try:
        with anyio.fail_after(30):
            async with Client(url) as mcp:
                await mcp.call_tool("list_workstations", {})
                async with anyio.create_task_group() as tg:
                    results = []

                    async def slow_call() -> None:
                        results.append(await mcp.call_tool("list_prompts", {}))

                    tg.start_soon(slow_call)
                    await _received(sim_port, 2)
                    server.send_signal(sig)
            assert not results[0].is_error, results[0].content  # it finished within the grace period
            assert await anyio.to_thread.run_sync(lambda: server.wait(timeout=20)) == 0
    finally:
        server.kill()
        sim.terminate()
        sim.wait(timeout=10)
    report = _verify(work, env, config)
    assert "audit chain OK" in report and "follow the last checkpoint" not in report, report


def test_stdio_server_on_sigterm_signs_its_head(tmp_path: Path) -> None:
    sim, _, config, env, work = _setup(tmp_path, latency_ms=0)
    proc = subprocess.Popen(
        [sys.executable, "-m", "resync_mcp", "--config", str(config), "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=str(work),
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
        sim.terminate()
        sim.wait(timeout=10)
    report = _verify(work, env, config)
    assert "audit chain OK" in report and "follow the last checkpoint" not in report, report
