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
from mcp import Client, types
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
    args: list[list[str]]
    logs: list[Path]

    def restart(self, i: int) -> None:
        self.replicas[i] = _start(self.args[i], self.lab.work, self.envs[i], self.logs[i])

    async def routed_to(self, i: int) -> None:
        """Until the balancer sends requests to replica ``i`` again (it marks a replica that
        refused a connection down for a while): probes through it, bounded, no sleeping."""
        log = self.nginx_root / "access.log"
        start = len(log.read_text().splitlines())
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(5000):
                await http.get(f"{self.url}/healthz")
                fresh = log.read_text().splitlines()[start:]
                if any(line.startswith(f"127.0.0.1:{self.ports[i]} ") for line in fresh):
                    return
        raise AssertionError(f"the balancer never routed to replica {i} again")

    def crashes(self) -> str:
        """The replicas' logged tracebacks: what a test shows when a call failed inside one."""
        found = [log.read_text() for log in self.logs if log.exists()]
        return "\n".join(text[text.find("tool_crashed") - 200 :] for text in found if "tool_crashed" in text)

    async def faults(self, changes: dict[str, Any]) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            (await http.put(f"{self.lab.engine_url}/_sim/faults", json=changes)).raise_for_status()

    async def writes(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=10) as http:
            return list((await http.get(f"{self.lab.engine_url}/_sim/writes")).json()["results"])


@contextmanager
def fleet(tmp_path: Path, redis_url: str, replicas: int = 2, toml: str = "") -> Iterator[Fleet]:
    toml += (
        '\n[security]\ntoolsets = ["read", "operate", "admin"]\nrole = "admin"\n\n'
        f'[cache]\nredis_url = "{redis_url}"\nredis_prefix = "fleet{secrets.token_hex(3)}:"\n\n'
        "[server]\nstateless = true\nshutdown_grace_s = 20\n"
    )
    with configured_engine(tmp_path, toml=toml) as lab:
        public = _free_port()  # the balancer's: the name the replicas are reached by
        env = lab.env | {
            "RESYNC_SERVER__REQUEST_STATE_KEYS": secrets.token_urlsafe(32),
            "RESYNC_SERVER__ALLOWED_HOSTS": f'["127.0.0.1:{public}"]',
        }
        ports, procs, envs, argv = [_free_port() for _ in range(replicas)], [], [], []
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
                argv.append(["--config", str(lab.config), "serve", "--transport", "http", "--port", str(port)])
                procs.append(_start(argv[-1], lab.work, envs[-1], tmp_path / f"replica{i}.log"))
            root = tmp_path / "nginx"
            with nginx(root, public, ports) as url:
                logs = [tmp_path / f"replica{i}.log" for i in range(replicas)]
                yield Fleet(url, lab, procs, ports, root, envs, argv, logs)
        finally:
            for proc in procs:  # the current ones: a restarted replica replaced its entry
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


class Outcomes(dict[str, str]):
    """Each call's outcome by idempotency key; ``reached(n)`` waits until n calls have ended."""

    def __init__(self) -> None:
        super().__init__()
        self._waiting: list[tuple[int, anyio.Event]] = []

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key, value)
        for n, event in self._waiting:
            if len(self) >= n:
                event.set()

    async def reached(self, n: int) -> None:
        event = anyio.Event()
        self._waiting.append((n, event))
        if len(self) < n:
            await event.wait()


async def _load_until(f: Fleet, jobs: list[str], stop: anyio.Event, outcomes: Outcomes) -> None:
    """Clients writing through the balancer until told to stop: each call its own idempotency
    key, a lost call retried with the same key (a fresh connection each time, as clients do)."""

    async def worker(n: int) -> None:
        for i in range(90):
            if stop.is_set():
                return
            key = f"w{n}-{i}"
            args = {"job": jobs[n], "priority": 5 + i, "idempotency_key": key}
            for attempt in range(20):
                try:
                    async with client(f.url) as mcp:
                        result = await mcp.call_tool("set_job_priority", args)
                    text = str(result.content[0].text) if result.is_error else ""  # type: ignore[union-attr]
                    outcomes[key] = (
                        "unknown"
                        if "outcome is unknown" in text or "no recorded outcome" in text
                        else (
                            text or str(result.structured_content["outcome"])  # type: ignore[index]
                        )
                    )
                    break
                except Exception:
                    if attempt == 19:
                        raise
                    await anyio.sleep(0.1)  # the balancer notices the stopped replica

    async with anyio.create_task_group() as tg:
        for n in range(len(jobs)):
            tg.start_soon(worker, n)


def _written(writes: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (w["path"], w["body"], json.dumps(w["query"], sort_keys=True))
        for w in writes
        if w["path"].endswith("/action/update-priority")
    ]


async def test_a_rolling_restart_under_load_loses_no_call_and_doubles_no_write(tmp_path: Path, redis_url: str) -> None:
    with fleet(tmp_path, redis_url) as f:
        async with client(f.url) as mcp:
            jobs = [j["id"] for j in (await call(mcp, "find_jobs", {"status": ["WAITING"], "limit": 6}))["jobs"]]
        outcomes, stop = Outcomes(), anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(_load_until, f, jobs, stop, outcomes)
            for i in range(2):  # one replica at a time: stop (it drains), start, back in rotation
                await outcomes.reached(20 * (i + 1))
                f.replicas[i].send_signal(signal.SIGTERM)
                assert await anyio.to_thread.run_sync(f.replicas[i].wait, 30) == 0
                await anyio.to_thread.run_sync(f.restart, i)
                await f.routed_to(i)  # as an operator waits before the next one
            stop.set()
        assert set(outcomes.values()) == {"done"}, f.crashes() or outcomes
        assert len(outcomes) >= 40
        sent = _written(await f.writes())
        assert len(sent) == len(outcomes) == len(set(sent))  # every call reached the engine, once


async def test_a_replica_killed_mid_write_never_has_it_sent_twice(tmp_path: Path, redis_url: str) -> None:
    with fleet(tmp_path, redis_url, toml="[resilience]\ntotal_timeout_s = 3\n") as f:
        async with client(f.url) as mcp:
            jobs = [j["id"] for j in (await call(mcp, "find_jobs", {"status": ["WAITING"], "limit": 6}))["jobs"]]
        await f.faults({"latency_ms": 150, "writes_only": True})  # writes in flight when the kill comes
        outcomes, stop = Outcomes(), anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(_load_until, f, jobs, stop, outcomes)
            await outcomes.reached(12)
            f.replicas[0].kill()  # no drain: whatever it was sending is lost mid-way
            await outcomes.reached(len(outcomes) + 24)  # the clients carry on through the other replica
            stop.set()
        sent = _written(await f.writes())
        assert len(sent) == len(set(sent))  # nothing reached the engine twice
        done = [k for k, v in outcomes.items() if v == "done"]
        assert set(outcomes.values()) <= {"done", "unknown"}, f.crashes() or outcomes
        assert len(done) >= len(outcomes) - len(jobs)
        assert len(sent) >= len(done)  # every "done" was sent; an "unknown" may or may not have been


async def test_a_confirmation_asked_by_one_replica_is_answered_on_the_other(tmp_path: Path, redis_url: str) -> None:
    """2026-07-28 multi-round-trip: the question's sealed state comes back with the answer, to
    whichever replica the balancer picks; the shared request-state key opens it there."""
    asked: list[str] = []

    async def person(ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"confirm": True})

    with fleet(tmp_path, redis_url) as f:
        async with Client(streamable_http_client(f"{f.url}/mcp"), elicitation_callback=person) as mcp:
            job = (await call(mcp, "find_jobs", {"status": ["WAITING"], "limit": 1}))["jobs"][0]
            done = await call(mcp, "cancel_job", {"job": job["id"], "reason": "duplicate run"})
        assert done["outcome"] == "done" and len(asked) == 1 and job["name"] in asked[0]
        last_two = (f.nginx_root / "access.log").read_text().splitlines()[-2:]
        assert len({line.split(" ")[0] for line in last_two}) == 2  # asked on one replica, answered on the other
        assert len([w for w in await f.writes() if w["path"].endswith("/action/cancel")]) == 1
