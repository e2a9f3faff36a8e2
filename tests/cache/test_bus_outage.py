"""Two server processes, one Redis, one engine: while Redis (and with it the invalidation bus) is
down, replica A refuses writes (it cannot keep them exactly-once without the shared store), and
a change made at the engine meanwhile (by its own console) is announced to no one. B must not
keep serving the state from before that change as fresh; once Redis is back, B flushes what it
cached meanwhile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from tests.conftest import call, error_text
from tests.redis_fixtures import redis_process
from tests.test_transports import _env, _free_port, _start

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _server(tmp: Path, name: str, sim_port: int, redis_url: str) -> tuple[Any, int]:
    work = tmp / name
    work.mkdir()
    config = work / "resync.toml"
    config.write_text(
        f'[engines.lab]\nbase_url = "http://127.0.0.1:{sim_port}"\nauth = "basic"\nusername = "u"\n\n'
        f'[cache]\nredis_url = "{redis_url}"\nbus_down_ttl_s = 0.0\n\n'
        '[security]\ntoolsets = ["read", "operate"]\nrole = "operator"\n'
    )
    port = _free_port()
    env = {**_env(), "RESYNC_ENGINES__LAB__PASSWORD": "p"}
    proc = _start(["--config", str(config), "serve", "--transport", "http", "--port", str(port)], work, env)
    return proc, port


async def _redis_view(mcp: Client) -> dict[str, Any]:
    health = await call(mcp, "server_health", {})
    return dict(health["redis"])


async def _until(mcp: Client, want: Any) -> None:
    """Wait for B's own report (its health tool), not for a guessed time."""
    # Another process's state, polled through its API: there is no event to wait on.
    while not want(await _redis_view(mcp)):  # noqa: ASYNC110
        await anyio.sleep(0.05)


async def test_a_write_during_a_redis_outage_is_not_hidden_by_the_other_replica(tmp_path: Path) -> None:
    sim_port = _free_port()
    sim = _start(["simulator", "--port", str(sim_port), "--jobs", "200", "--seed", "11"], tmp_path)
    procs = [sim]
    try:
        with redis_process() as (redis_url, redis):
            a, a_port = _server(tmp_path, "a", sim_port, redis_url)
            b, b_port = _server(tmp_path, "b", sim_port, redis_url)
            procs += [a, b]
            with anyio.fail_after(90):
                async with (
                    Client(f"http://127.0.0.1:{a_port}/mcp") as ma,
                    Client(f"http://127.0.0.1:{b_port}/mcp") as mb,
                ):
                    await _until(mb, lambda r: r["bus_subscribed"])
                    ready = await call(mb, "find_jobs", {"status": ["READY", "WAITING"], "limit": 5})
                    job = ready["jobs"][0]["id"]
                    before = await call(mb, "get_job", {"job": job})
                    assert (await call(mb, "get_job", {"job": job}))["job"] == before["job"]
                    redis.kill()
                    redis.wait(timeout=10)
                    await _until(mb, lambda r: not r["bus_subscribed"] and r["bus_losses"] >= 1)
                    await call(mb, "get_job", {"job": job})  # B caches again while the bus is down
                    refused = await error_text(ma, "hold_job", {"job": job, "reason": "outage test"})
                    assert "Writes are refused" in refused and "Nothing was sent" in refused
                    async with httpx.AsyncClient(auth=("u", "p")) as console:  # the engine's own console acts
                        url = f"http://127.0.0.1:{sim_port}/twsd/api/v2/plan/job/{job}/action/hold"
                        assert (await console.put(url, json={})).status_code == 200
                    seen = await call(mb, "get_job", {"job": job})  # B never heard of the change ...
                    assert seen["job"]["common_status"] == "HELD", json.dumps(seen)[:400]  # ... and still sees it
            port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
        with redis_process(port) as (_url, _again):
            async with Client(f"http://127.0.0.1:{b_port}/mcp") as mb:
                with anyio.fail_after(60):
                    await _until(mb, lambda r: r["bus_subscribed"])
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
