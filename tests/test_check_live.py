"""`resync-mcp check` asks each engine itself: a good answer cached in Redis by an earlier probe
(or by a running server) must not make a wrong password or a frozen engine look fine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.test_transports import _env, _free_port, _start

pytestmark = pytest.mark.slow


def _check(tmp_path: Path, config: Path, password: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**_env(), "RESYNC_ENGINES__LAB__PASSWORD": password, **extra}
    return subprocess.run(
        [sys.executable, "-m", "resync_mcp", "--config", str(config), "check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_probes_live_past_the_shared_cache(tmp_path: Path, redis_url: str) -> None:
    port = _free_port()
    env = {**_env(), "RESYNC_SIMULATOR_PASSWORD": "right"}
    sim = _start(["simulator", "--port", str(port), "--jobs", "20", "--username", "ops"], tmp_path, env)
    config = tmp_path / "resync.toml"
    config.write_text(
        f'[engines.lab]\nbase_url = "http://127.0.0.1:{port}"\nauth = "basic"\nusername = "ops"\n\n'
        f'[cache]\nredis_url = "{redis_url}"\n'
    )
    try:
        good = _check(tmp_path, config, "right")
        assert good.returncode == 0 and "probe lab: ok" in good.stdout, good.stdout + good.stderr
        wrong = _check(tmp_path, config, "wrong")
        assert wrong.returncode == 1 and "probe lab: FAILED" in wrong.stdout, wrong.stdout
        assert "credentials" in wrong.stdout
        httpx.put(f"http://127.0.0.1:{port}/_sim/faults", json={"hang": True}, timeout=5).raise_for_status()
        frozen = _check(tmp_path, config, "right", RESYNC_RESILIENCE__TOTAL_TIMEOUT_S="0.5")
        assert frozen.returncode == 1 and "probe lab: FAILED" in frozen.stdout and "timed out" in frozen.stdout
    finally:
        sim.terminate()
        sim.wait(timeout=10)
