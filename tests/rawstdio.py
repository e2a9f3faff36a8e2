"""A `serve --demo` process spoken to in raw JSON-RPC lines over stdio, as a desktop client
does: for what the SDK's client would hide (bytes on the wire, answer order); and the raw
messages and headers the HTTP tests send."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.test_transports import _env

INIT = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INIT}
HANDSHAKE = (INITIALIZE, {"jsonrpc": "2.0", "method": "notifications/initialized"})
HTTP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


class RawStdio:
    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.answers: dict[Any, dict[str, Any]] = {}
        self.lines: dict[Any, bytes] = {}

    def send(self, *messages: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"".join(json.dumps(m).encode() + b"\n" for m in messages))
        self.proc.stdin.flush()

    def until(self, request_id: int) -> dict[str, Any]:
        """Read answers until the one to ``request_id`` (blocks: no sleeping)."""
        assert self.proc.stdout is not None
        while request_id not in self.answers:
            line = self.proc.stdout.readline()
            assert line, "the server closed its output"
            reply = json.loads(line)
            self.answers[reply.get("id")], self.lines[reply.get("id")] = reply, line
        return self.answers[request_id]


@contextmanager
def raw_server(cwd: Path, *, jobs: int = 50, home: Path | None = None) -> Iterator[RawStdio]:
    env = _env() | ({"HOME": str(home)} if home else {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "resync_mcp", "serve", "--demo", "--demo-jobs", str(jobs)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=str(cwd),
    )
    try:
        yield RawStdio(proc)
    finally:
        proc.kill()
        proc.wait(timeout=10)
