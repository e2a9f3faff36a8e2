"""What the HTTP benchmarks share (bench_auth, bench_replicas): a free port, concurrent MCP
sessions calling a cached `get_job`, and a p95."""

from __future__ import annotations

import socket
import time

import anyio
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def load(
    url: str, sessions: int, calls: int, *, job: str | None = None, token: str | None = None, raw: bool = False
) -> tuple[list[float], float]:
    """``sessions`` concurrent sessions of ``calls`` `get_job` calls each on ``job`` (or on the
    first job each session finds); the calls' latencies in seconds, and calls per second.
    ``raw``: plain `tools/call` requests, without the client's output-schema check (which costs
    the load generator, not the server, and differs with the schema's size)."""
    latencies: list[float] = []

    async def one() -> None:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"} if token else None)
        async with http, Client(streamable_http_client(url, http_client=http)) as mcp:
            target = job
            if target is None:
                found = await mcp.call_tool("find_jobs", {"limit": 1})
                target = found.structured_content["jobs"][0]["id"]  # type: ignore[index]
            request = types.CallToolRequest(
                params=types.CallToolRequestParams(name="get_job", arguments={"job": target})
            )
            for _ in range(calls):
                t = time.perf_counter()
                if raw:
                    result = await mcp.session.send_request(request, types.CallToolResult)
                else:
                    result = await mcp.call_tool("get_job", {"job": target})
                latencies.append(time.perf_counter() - t)
                assert not result.is_error, result.content

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(sessions):
            tg.start_soon(one)
    return latencies, sessions * calls / (time.perf_counter() - started)


def p95(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.95)]
