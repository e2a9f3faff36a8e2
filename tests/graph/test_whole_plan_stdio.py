"""From the outside, as a desktop client meets it: a `serve --demo` process over stdio answers
the plan-wide question at once while it reads the plan in the background, and from the whole
plan once that read is done, with other calls answered meanwhile."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

from tests.rawstdio import HANDSHAKE, RawStdio, raw_server

ids = itertools.count(10)


def call(server: RawStdio, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    n = next(ids)
    server.send({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": {"name": tool, "arguments": args}})
    reply = server.until(n)
    assert "result" in reply and not reply["result"].get("isError"), reply
    structured: dict[str, Any] = reply["result"].get("structuredContent") or json.loads(
        reply["result"]["content"][0]["text"]
    )
    return structured


def test_deadlines_at_risk_answers_at_once_then_from_the_whole_plan(tmp_path: Path) -> None:
    with raw_server(tmp_path, jobs=3000, home=tmp_path / "home") as server:
        server.send(*HANDSHAKE)
        server.until(1)
        first = call(server, "deadlines_at_risk", {"limit": 5})
        assert first["ready"] is False and first["progress"].startswith("reading the whole plan")
        late = call(server, "find_jobs", {"late": True, "limit": 5})
        assert [j["id"] for j in first["late_now"]] == [j["id"] for j in late["jobs"]]
        ends, answer, served = time.monotonic() + 60, first, 0
        while not answer["ready"]:  # other calls are answered while the plan is read
            assert time.monotonic() < ends, answer
            job = call(server, "get_job", {"job": late["jobs"][0]["id"]})
            assert job["job"]["id"] == late["jobs"][0]["id"]
            served += 1
            answer = call(server, "deadlines_at_risk", {"limit": 5})
        assert served > 0, "the read finished before any other call: this proves nothing"
        assert answer["progress"] is None and answer["at_risk_total"] >= len(answer["at_risk"])
        slack = [r["slack_s"] for r in answer["at_risk"]]
        assert slack == sorted(slack) and all(s < 0 for s in slack)
