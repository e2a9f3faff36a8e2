"""The server as users run it: a stdio subprocess and Streamable HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import call

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESYNC_")}
    env["PYTHONUNBUFFERED"] = "1"
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


@pytest.fixture
def http_server(tmp_path: object) -> Iterator[int]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "resync_mcp",
            "serve",
            "--demo",
            "--demo-jobs",
            "200",
            "--transport",
            "http",
            "--port",
            str(port),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=_env(),
        cwd=str(tmp_path),
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # blocks until the server says it is up: no sleeping
        seen.append(line)
        if "Uvicorn running" in line or "startup complete" in line:
            break
    else:
        raise AssertionError("server did not start: " + "".join(seen[-20:]))
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
