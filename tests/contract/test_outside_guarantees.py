"""Issue 12's guarantees as a user meets them: a stdio server process started from an empty folder
with its own HOME, the simulator as a configured engine in another process, and the CLI."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import call
from tests.test_transports import _env, _free_port, _start

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _setup(
    tmp_path: Path, faults: dict[str, object] | None = None
) -> tuple[subprocess.Popen[str], int, Path, dict[str, str], Path]:
    port = _free_port()
    args = ["simulator", "--port", str(port), "--jobs", "200", "--seed", "7"]
    sim = _start([*args, "--faults", json.dumps(faults)] if faults else args, tmp_path)
    home, work = tmp_path / "home", tmp_path / "empty"
    home.mkdir()
    work.mkdir()
    config = tmp_path / "resync.toml"
    config.write_text(
        f'[engines.lab]\nbase_url = "http://127.0.0.1:{port}"\nauth = "basic"\nusername = "u"\n\n'
        '[security]\ntoolsets = ["read", "operate", "admin"]\nrole = "admin"\n\n'
        "[resilience]\ntotal_timeout_s = 1.0\n"
    )
    env = {**_env(), "HOME": str(home), "RESYNC_ENGINES__LAB__PASSWORD": "p"}
    env.pop("XDG_CONFIG_HOME", None)
    env.pop("XDG_STATE_HOME", None)
    return sim, port, config, env, work


def _params(config: Path, env: dict[str, str], work: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "resync_mcp", "--config", str(config), "serve"], env=env, cwd=str(work)
    )


def _cli(config: Path, env: dict[str, str], work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "resync_mcp", "--config", str(config), *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_a_misspelled_preview_writes_nothing_on_the_engine(tmp_path: Path) -> None:
    sim, port, config, env, work = _setup(tmp_path)
    try:
        async with Client(_params(config, env, work)) as mcp:
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
            writes = (await http.get(f"http://127.0.0.1:{port}/_sim/writes")).json()["results"]
        assert writes == []
    finally:
        sim.terminate()
        sim.wait(timeout=10)


async def test_a_hung_engine_answers_within_the_deadline(tmp_path: Path) -> None:
    sim, _, config, env, work = _setup(tmp_path, {"hang": True})
    try:
        async with Client(_params(config, env, work)) as mcp:
            for tool in ("list_workstations", "list_prompts"):
                started = time.monotonic()
                result = await mcp.call_tool(tool, {})
                waited = time.monotonic() - started
                assert result.is_error and waited <= 1.0 * 1.25, (tool, waited)
    finally:
        sim.terminate()
        sim.wait(timeout=10)


async def test_a_tampered_last_record_is_reported_after_audit_show(tmp_path: Path) -> None:
    sim, _, config, env, work = _setup(tmp_path)
    try:
        async with Client(_params(config, env, work)) as mcp:
            for _ in range(3):
                await call(mcp, "list_workstations", {})
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    assert "audit chain OK" in _cli(config, env, work, "audit", "verify").stdout
    db = sqlite3.connect(work / "resync-data" / "audit" / "audit.db")
    db.execute(
        "UPDATE records SET ct = CASE substr(ct, 1, 1) WHEN 'A' THEN 'B' ELSE 'A' END || substr(ct, 2) "
        "WHERE seq = (SELECT max(seq) FROM records)"
    )
    db.commit()
    db.close()
    shown = _cli(config, env, work, "audit", "show")
    assert shown.returncode == 0
    verified = _cli(config, env, work, "audit", "verify")
    assert verified.returncode == 1 and "BROKEN" in verified.stdout, verified.stdout
