"""Issue 12's guarantees as a user meets them: a stdio server process started from an empty folder
with its own HOME, the simulator as a configured engine in another process, and the CLI."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from mcp import Client

from tests.conftest import call
from tests.engines import configured_engine

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


STRICT = '[security]\ntoolsets = ["read", "operate", "admin"]\nrole = "admin"\n\n[resilience]\ntotal_timeout_s = 1.0\n'


async def test_a_misspelled_preview_writes_nothing_on_the_engine(tmp_path: Path) -> None:
    with configured_engine(tmp_path, toml=STRICT) as lab:
        async with Client(lab.stdio()) as mcp:
            jobs = await call(mcp, "find_jobs", {"status": ["WAITING", "READY"], "limit": 3})
            job = jobs["jobs"][0]["id"]
            for tool, extra in (("set_job_priority", {"priority": 9}), ("hold_job", {})):
                for typo in ("Preview", "preveiw", "preview "):
                    result = await mcp.call_tool(tool, {"job": job, "reason": "r", typo: True, **extra})
                    text = result.content[0].text  # type: ignore[union-attr]
                    assert result.is_error and f"'{typo}'" in text and "'preview'" in text, text
            ws = await call(mcp, "list_workstations", {})
            name = ws["workstations"][0]["name"]
            result = await mcp.call_tool("set_workstation_limit", {"workstation": name, "limit": 0, "Preview": True})
            assert result.is_error
        async with httpx.AsyncClient(auth=("u", "p"), timeout=10) as http:
            writes = (await http.get(f"{lab.engine_url}/_sim/writes")).json()["results"]
        assert writes == []


async def test_a_hung_engine_answers_within_the_deadline(tmp_path: Path) -> None:
    with configured_engine(tmp_path, toml=STRICT, faults={"hang": True}) as lab:
        async with Client(lab.stdio()) as mcp:
            await mcp.call_tool("server_health", {})  # the app is built (stdio answers before it is): time the engine
            for tool in ("list_workstations", "list_prompts"):
                started = time.monotonic()
                result = await mcp.call_tool(tool, {})
                waited = time.monotonic() - started
                assert result.is_error and waited <= 1.0 * 1.25, (tool, waited)


async def test_a_tampered_last_record_is_reported_after_audit_show(tmp_path: Path) -> None:
    with configured_engine(tmp_path, toml=STRICT) as lab:
        async with Client(lab.stdio()) as mcp:
            for _ in range(3):
                await call(mcp, "list_workstations", {})
    assert "audit chain OK" in lab.cli("audit", "verify").stdout
    db = sqlite3.connect(lab.data / "audit" / "audit.db")
    db.execute(
        "UPDATE records SET ct = CASE substr(ct, 1, 1) WHEN 'A' THEN 'B' ELSE 'A' END || substr(ct, 2) "
        "WHERE seq = (SELECT max(seq) FROM records)"
    )
    db.commit()
    db.close()
    shown = lab.cli("audit", "show")
    assert shown.returncode == 0
    verified = lab.cli("audit", "verify")
    assert verified.returncode == 1 and "BROKEN" in verified.stdout, verified.stdout
