"""From the outside: `resync-mcp kb ingest` and `kb list` in fresh processes, then a stdio server
on the same data folder (as Claude Desktop launches it: an empty working folder, its own HOME)
answering search_knowledge with its confidence, its no_match and the status of an obsolete
runbook."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.knowledge.test_quality import CURRENT, OLD
from tests.rawstdio import HANDSHAKE, raw_server
from tests.test_transports import _env


def _call(n: int, query: str) -> dict[str, Any]:
    params = {"name": "search_knowledge", "arguments": {"query": query, "limit": 10}}
    return {"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": params}


def test_ingest_then_a_stdio_server_says_what_it_knows_and_what_it_does_not(tmp_path: Path) -> None:
    home, work, docs = tmp_path / "home", tmp_path / "work", tmp_path / "docs"
    for folder in (home, work, docs):
        folder.mkdir()
    (docs / "settle-current.md").write_text(CURRENT)
    (docs / "settle-2019.md").write_text(OLD)
    env = _env() | {"HOME": str(home)}  # as raw_server starts the server: the same data folder
    cli = [sys.executable, "-m", "resync_mcp", "kb"]
    ingest = subprocess.run([*cli, "ingest", str(docs)], env=env, cwd=work, capture_output=True, text=True, timeout=300)
    assert ingest.returncode == 0, ingest.stderr
    listed = subprocess.run([*cli, "list"], env=env, cwd=work, capture_output=True, text=True, timeout=120).stdout
    old_line = next(line for line in listed.splitlines() if "settle-2019.md" in line)
    assert "[obsolete]" in old_line and "[obsolete]" not in next(
        x for x in listed.splitlines() if "settle-current" in x
    )

    with raw_server(work, home=home) as server:
        server.send(*HANDSHAKE, _call(2, "SETTLE_CARDS failed with ORA-01555 snapshot too old, how to fix"))
        known = server.until(2)["result"]["structuredContent"]
        server.send(_call(3, "MORTGAGE_OFFER_PRINT fails with MOP-E-077"))
        unknown = server.until(3)["result"]["structuredContent"]
    assert known["no_match"] is False and known["confidence"] in ("high", "medium"), json.dumps(known)[:1500]
    assert known["passages"][0]["source"].endswith("settle-current.md") and known["passages"][0]["status"] is None
    old = next(p for p in known["passages"] if p["source"].endswith("settle-2019.md"))
    assert old["status"].startswith("OBSOLETE (superseded by settle-current.md)")
    assert unknown["no_match"] is True and unknown["confidence"] == "low"
    assert "No runbook covers this" in unknown["assessment"] and "MOP-E-077" in unknown["assessment"]
