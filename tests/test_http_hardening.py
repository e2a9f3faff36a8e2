"""An exposed port from the outside: a client that sends its request headers too slowly is
closed within server.header_timeout_s (one real-socket test), while a normal client is served."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.test_transports import _env, _free_port, _start

pytestmark = pytest.mark.slow


def test_a_slow_header_client_is_closed_and_a_normal_one_served(tmp_path: Path) -> None:
    port = _free_port()
    env = _env() | {"HOME": str(tmp_path), "RESYNC_SERVER__HEADER_TIMEOUT_S": "1"}
    proc = _start(["serve", "--demo", "--transport", "http", "--port", str(port)], tmp_path, env)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the rest
            started = time.monotonic()
            assert slow.recv(1024) == b""  # closed by the server
            waited = time.monotonic() - started
        assert 0.5 <= waited < 4, waited
        with socket.create_connection(("127.0.0.1", port), timeout=10) as normal:
            normal.sendall(f"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
            assert normal.recv(1024).startswith(b"HTTP/1.1 ")  # answered (whatever the status)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_slow_body_is_closed_and_cors_answers_only_configured_origins(tmp_path: Path) -> None:
    port = _free_port()
    env = _env() | {
        "HOME": str(tmp_path),
        "RESYNC_SERVER__BODY_TIMEOUT_S": "1",
        "RESYNC_SERVER__CORS_ORIGINS": '["https://console.example.test"]',
    }
    proc = _start(["serve", "--demo", "--transport", "http", "--port", str(port)], tmp_path, env)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            head = f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            slow.sendall(f"{head}Content-Length: 100\r\n\r\n".encode() + b'{"jsonrpc"')  # 10 of 100 bytes
            started = time.monotonic()
            while slow.recv(4096):  # whatever the server says, it must then close
                pass
            waited = time.monotonic() - started
        assert waited < 4, waited
        preflight = {
            "Origin": "https://console.example.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        }
        ok = httpx.options(f"http://127.0.0.1:{port}/mcp", headers=preflight, timeout=10)
        assert ok.headers.get("access-control-allow-origin") == "https://console.example.test"
        other = httpx.options(
            f"http://127.0.0.1:{port}/mcp", headers=preflight | {"Origin": "https://evil.test"}, timeout=10
        )
        assert "access-control-allow-origin" not in other.headers
    finally:
        proc.terminate()
        proc.wait(timeout=10)
