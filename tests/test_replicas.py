"""Two replicas behind a real nginx, sharing a real Redis, in stateless mode, with the simulator
as their configured engine (writes counted at its /_sim/writes): the safety guarantees hold
across the fleet, not just inside one process."""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.balancer import nginx, upstreams_used
from tests.conftest import call, error_text
from tests.engines import Setup, configured_engine
from tests.test_transports import _free_port, _start

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@dataclass
class Fleet:
    url: str
    lab: Setup
    replicas: list[subprocess.Popen[str]]
    ports: list[int]
    nginx_root: Path
    envs: list[dict[str, str]]

    async def writes(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=10) as http:
            return list((await http.get(f"{self.lab.engine_url}/_sim/writes")).json()["results"])


@contextmanager
def fleet(tmp_path: Path, redis_url: str, replicas: int = 2) -> Iterator[Fleet]:
    toml = (
        '[security]\ntoolsets = ["read", "operate", "admin"]\nrole = "admin"\n\n'
        f'[cache]\nredis_url = "{redis_url}"\nredis_prefix = "fleet{secrets.token_hex(3)}:"\n\n'
        "[server]\nstateless = true\nshutdown_grace_s = 20\n"
    )
    with configured_engine(tmp_path, toml=toml) as lab:
        public = _free_port()  # the balancer's: the name the replicas are reached by
        env = lab.env | {
            "RESYNC_SERVER__REQUEST_STATE_KEYS": secrets.token_urlsafe(32),
            "RESYNC_SERVER__ALLOWED_HOSTS": f'["127.0.0.1:{public}"]',
        }
        ports, procs, envs = [_free_port() for _ in range(replicas)], [], []
        try:
            for i, port in enumerate(ports):  # each replica its own home and chain, as separate containers have
                (tmp_path / f"replica{i}").mkdir()
                envs.append(
                    env
                    | {
                        "HOME": str(tmp_path / f"replica{i}"),
                        "RESYNC_AUDIT__REPLICA_ID": f"r{i}",
                        "RESYNC_AUDIT__DIR": str(tmp_path / "chains" / f"r{i}"),
                        "RESYNC_AUDIT__EXTERNAL_DIR": str(tmp_path / "shared-audit"),
                    }
                )
                args = ["--config", str(lab.config), "serve", "--transport", "http", "--port", str(port)]
                procs.append(_start(args, lab.work, envs[-1]))
            root = tmp_path / "nginx"
            with nginx(root, public, ports) as url:
                yield Fleet(url, lab, procs, ports, root, envs)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=30)


@asynccontextmanager
async def client(url: str) -> Any:
    async with Client(streamable_http_client(f"{url}/mcp")) as mcp:
        yield mcp


async def test_a_retried_write_reaches_the_engine_once_through_the_balancer(tmp_path: Path, redis_url: str) -> None:
    with fleet(tmp_path, redis_url) as f:
        async with client(f.url) as mcp:
            job = (await call(mcp, "find_jobs", {"status": ["WAITING"], "limit": 1}))["jobs"][0]
            args = {"job": job["id"], "priority": 42, "idempotency_key": "ik-" + secrets.token_hex(4)}
            first = await call(mcp, "set_job_priority", args)
            again = [await call(mcp, "set_job_priority", args) for _ in range(3)]  # round-robin: both replicas
        assert first["outcome"] == "done" and all(a["message"].startswith("Replayed") for a in again)
        sent = [w for w in await f.writes() if w["path"].endswith("/action/update-priority")]
        assert len(sent) == 1
        assert upstreams_used(f.nginx_root) == {f"127.0.0.1:{p}" for p in f.ports}
    # Stopped, each replica signed its final checkpoint into the shared folder: one command checks all.
    fleet_check = _cli(["audit", "verify-fleet", "--dir", str(tmp_path / "shared-audit")], f.envs[0], f.lab.config)
    assert fleet_check.returncode == 0, fleet_check.stdout
    lines = fleet_check.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["r0", "r1"] and all("checkpoints only" in x for x in lines)
    chains = ["--chains", str(tmp_path / "chains")]
    full = _cli(["audit", "verify-fleet", "--dir", str(tmp_path / "shared-audit"), *chains], f.envs[0], f.lab.config)
    assert full.returncode == 0 and "audit chain OK" in full.stdout and "checkpoints only" not in full.stdout
    records = [json.loads(x) for x in _cli(["audit", "export"], f.envs[1], f.lab.config).stdout.splitlines()]
    assert records and {r.get("replica") for r in records if r.get("tool")} == {"r1"}
    cp = sorted((tmp_path / "shared-audit" / "r1").glob("checkpoint-*.json"))[-1]
    cp.write_text(cp.read_text().replace('"head": "', '"head": "0'))  # a rewritten head
    broken = _cli(["audit", "verify-fleet", "--dir", str(tmp_path / "shared-audit")], f.envs[0], f.lab.config)
    assert broken.returncode == 1 and "r1: audit chain BROKEN" in broken.stdout


def _cli(args: list[str], env: dict[str, str], config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "resync_mcp", "--config", str(config), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_a_token_from_one_replica_confirms_once_on_the_other(tmp_path: Path, redis_url: str) -> None:
    with fleet(tmp_path, redis_url) as f:
        async with client(f.url) as mcp:
            job = (await call(mcp, "find_jobs", {"status": ["WAITING"], "limit": 1}))["jobs"][0]
            cancel = {"job": job["id"], "reason": "duplicate run", "ticket": "INC-7"}
            token = (await call(mcp, "cancel_job", cancel | {"preview": True}))["confirmation_token"]
            confirmed = cancel | {"confirmation_token": token}
            outcomes: list[str] = []

            async def confirm() -> None:  # at once: round-robin sends one to each replica
                result = await mcp.call_tool("cancel_job", confirmed)
                outcomes.append("refused" if result.is_error else str(result.structured_content["outcome"]))

            async with anyio.create_task_group() as tg:
                tg.start_soon(confirm)
                tg.start_soon(confirm)
            assert sorted(outcomes) == ["done", "refused"]
            text = await error_text(mcp, "cancel_job", confirmed)  # and a later use, wherever it lands
            assert "already used" in text or "refused" in text
        sent = [w for w in await f.writes() if w["path"].endswith("/action/cancel")]
        assert len(sent) == 1


async def test_a_replica_stopped_mid_load_loses_no_call_and_doubles_no_write(tmp_path: Path, redis_url: str) -> None:
    with fleet(tmp_path, redis_url) as f:
        async with client(f.url) as mcp:
            jobs = [j["id"] for j in (await call(mcp, "find_jobs", {"status": ["WAITING"], "limit": 40}))["jobs"]]
        done: list[str] = []

        async def worker(n: int) -> None:
            for i in range(5):
                args = {"job": jobs[n * 5 + i], "priority": 60 + i, "idempotency_key": f"w{n}-{i}"}
                for attempt in range(10):  # a client retries a lost call with the same key
                    try:
                        async with client(f.url) as mcp:
                            result = await call(mcp, "set_job_priority", args)
                        done.append(result["outcome"])
                        break
                    except Exception:
                        if attempt == 9:
                            raise
                if n == 0 and i == 1:
                    f.replicas[0].send_signal(signal.SIGTERM)  # mid-load, as a rolling restart does

        async with anyio.create_task_group() as tg:
            for n in range(8):
                tg.start_soon(worker, n)
        assert f.replicas[0].wait(timeout=30) == 0  # it drained and stopped cleanly
        assert done == ["done"] * 40
        sent = [w for w in await f.writes() if w["path"].endswith("/action/update-priority")]
        assert len(sent) == 40 and len({w["path"] for w in sent}) == 40  # each job once
