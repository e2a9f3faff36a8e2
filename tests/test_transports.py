"""The server as users run it: a stdio subprocess and Streamable HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client

from resync_mcp.security.policy import RULES
from tests.conftest import call

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESYNC_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["RESYNC_KNOWLEDGE__WARM_UP"] = "false"  # short-lived test servers need no model (in-process tests cover it)
    return env


async def test_stdio_subprocess_lists_and_calls_tools(tmp_path: object) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "resync_mcp", "serve", "--demo", "--demo-jobs", "200", "--demo-seed", "3"],
        env=_env(),
        cwd=str(tmp_path),
    )
    async with Client(params) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert "find_jobs" in names
        summary = await call(client, "plan_summary", {})
        assert summary["total_jobs"] == 200 and summary["engine"] == "demo"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(
    args: list[str], cwd: object, env: dict[str, str] | None = None, log: Path | None = None
) -> subprocess.Popen[str]:
    """Start `python -m resync_mcp ARGS`; return once uvicorn says it is listening (``log``:
    where its stderr goes from then on, for a test that explains a failure with it)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "resync_mcp", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env or _env(),
        cwd=str(cwd),
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # blocks until the server says it is up: no sleeping
        seen.append(line)
        if "Uvicorn running" in line:
            # Keep draining stderr so per-call log lines can never fill the pipe and stall the server.
            threading.Thread(target=_drain, args=(proc.stderr, log), daemon=True).start()
            break
    else:
        raise AssertionError("server did not start: " + "".join(seen[-20:]))
    return proc


def _drain(stream: Any, log: Path | None) -> None:
    if log is None:
        stream.read()
        return
    with log.open("a", encoding="utf-8") as out:
        for line in stream:
            out.write(line)
            out.flush()


@pytest.fixture
def http_server(tmp_path: object) -> Iterator[int]:
    port = _free_port()
    proc = _start(["serve", "--demo", "--demo-jobs", "200", "--transport", "http", "--port", str(port)], tmp_path)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_streamable_http_serves_tools(http_server: int) -> None:
    async with Client(f"http://127.0.0.1:{http_server}/mcp") as client:
        page = await call(client, "find_jobs", {"limit": 3})
        assert page["returned"] == 3 and page["total"] == 200


async def test_http_rejects_foreign_host_and_origin(http_server: int) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_server}") as c:
        r = await c.post("/mcp", json=body, headers={**headers, "Host": "evil.example"})
        assert r.status_code in (400, 421)
        r = await c.post("/mcp", json=body, headers={**headers, "Origin": "http://evil.example"})
        assert r.status_code == 403


async def test_malformed_json_rpc_gets_an_error_not_a_crash(http_server: int) -> None:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_server}") as c:
        r = await c.post("/mcp", content=b"{not json", headers=headers)
        assert 400 <= r.status_code < 500
        assert "Traceback" not in r.text
    async with Client(f"http://127.0.0.1:{http_server}/mcp") as client:  # still serving
        assert (await call(client, "plan_summary", {}))["total_jobs"] == 200


async def test_legacy_sse_transport_serves_tools(tmp_path: object) -> None:
    port = _free_port()
    proc = _start(["serve", "--demo", "--demo-jobs", "100", "--transport", "sse", "--port", str(port)], tmp_path)
    try:
        async with Client(sse_client(f"http://127.0.0.1:{port}/sse")) as client:
            assert (await call(client, "plan_summary", {}))["total_jobs"] == 100
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_stdio_survives_malformed_json_rpc(tmp_path: object) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "resync_mcp", "serve", "--demo", "--demo-jobs", "50"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # unread: a full pipe must not stall the server
        text=True,
        env=_env(),
        cwd=str(tmp_path),
    )
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
    }
    lines = [
        "{this is not json",
        json.dumps({"jsonrpc": "2.0", "id": 7, "method": 12}),
        json.dumps(init),
        json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    ]
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("\n".join(lines) + "\n")
    proc.stdin.flush()
    replies = []
    try:
        for line in proc.stdout:  # blocks until each reply arrives; stdout carries only JSON-RPC
            replies.append(json.loads(line))
            if replies[-1].get("id") == 2:
                break
    finally:
        proc.kill()
        proc.wait(timeout=10)
    by_id = {r.get("id"): r for r in replies}
    assert len(by_id[2]["result"]["tools"]) == len(RULES)  # --demo: every toolset is on against the simulator


def test_standalone_simulator_is_a_real_engine_for_the_server(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _free_port()
    env = _env() | {"RESYNC_SIMULATOR_PASSWORD": "pw"}
    proc = _start(["simulator", "--port", str(port), "--jobs", "30", "--username", "ops"], tmp_path, env)
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/twsd/api/v2/plan/job", params={"limit": 1}, auth=("ops", "pw"))
        assert r.status_code == 200 and r.json()["count"] == 30
        assert httpx.get(f"http://127.0.0.1:{port}/twsd/api/v2/plan/job", auth=("ops", "no")).status_code == 401
        cfg = tmp_path / "r.toml"
        cfg.write_text(f'[engines.lab]\nbase_url = "http://127.0.0.1:{port}"\nusername = "ops"\n')
        result = subprocess.run(
            [sys.executable, "-m", "resync_mcp", "--config", str(cfg), "check"],
            capture_output=True,
            text=True,
            env=_env() | {"RESYNC_ENGINES__LAB__PASSWORD": "pw"},
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "probe lab: ok, HWA 10.2.8" in result.stdout and "pw" not in result.stdout.replace("plan", "")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("fault", [{"reset_rate": 1.0}, {"lose_answer": "reset", "writes_only": True}])
def test_the_simulators_reset_fault_resets_the_tcp_connection(tmp_path: Any, fault: dict[str, Any]) -> None:
    """A reset is a reset over real HTTP too: the client sees the connection torn down, no status."""
    port = _free_port()
    proc = _start(["simulator", "--port", str(port), "--jobs", "30", "--faults", json.dumps(fault)], tmp_path)
    base = f"http://127.0.0.1:{port}/twsd/api/v2"
    try:
        with httpx.Client(timeout=10, auth=("u", "p")) as http:
            if fault.get("writes_only"):
                jobs = http.get(f"{base}/plan/job", params={"limit": 30}).json()["results"]
                job = next(j["id"] for j in jobs if j["lastRunCommonStatus"] == "WAITING")
                request = http.build_request("PUT", f"{base}/plan/job/{job}/action/hold")
            else:
                request = http.build_request("GET", f"{base}/plan/job", params={"limit": 1})
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                http.send(request)
            writes = http.get(f"http://127.0.0.1:{port}/_sim/writes").json()["results"]
        assert len(writes) == (1 if fault.get("writes_only") else 0)  # the hold reached the engine
    finally:
        proc.terminate()
        proc.wait(timeout=10)
