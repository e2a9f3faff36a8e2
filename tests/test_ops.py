"""What a deployment's machinery sees of a real server process: /healthz, /readyz (503 with the
reason when the engine's breaker opens or Redis stops answering) and /metrics in Prometheus text
showing the calls just made. Probes need no token, even where MCP requests do."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import call, error_text
from tests.engines import configured_engine
from tests.redis_fixtures import redis_process
from tests.test_transports import _free_port, _start

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (s.labels, s.value)
        for family in text_string_to_metric_families(text)  # raises on anything not exposition text
        for s in family.samples
        if s.name == name
    ]


async def test_probes_and_metrics_follow_the_engine_and_redis(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    digest = hashlib.sha256(b"op-token").hexdigest()
    tokens.write_text(f'[[token]]\nprincipal = "ops"\nroles = ["operator"]\nsha256 = "{digest}"\n')
    with redis_process() as (redis_url, redis):
        toml = (
            '[security]\ntoolsets = ["read", "operate"]\n\n'
            f'[cache]\nredis_url = "{redis_url}"\n\n[resilience]\nretry_attempts = 1\nbreaker_threshold = 2\n\n'
            f'[auth]\nmode = "static"\ntokens_file = "{tokens}"\n'
        )
        with configured_engine(tmp_path, toml=toml) as lab:
            port = _free_port()
            args = ["--config", str(lab.config), "serve", "--transport", "http", "--port", str(port)]
            proc = _start(args, lab.work, lab.env)
            url = f"http://127.0.0.1:{port}"
            try:
                async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                    assert (await http.get("/healthz")).status_code == 200
                    ready = await http.get("/readyz")
                    assert ready.status_code == 200 and ready.json()["ready"] is True

                    mcp_http = create_mcp_http_client(headers={"Authorization": "Bearer op-token"})
                    async with mcp_http, Client(streamable_http_client(f"{url}/mcp", http_client=mcp_http)) as mcp:
                        job = (await call(mcp, "find_jobs", {"limit": 1}))["jobs"][0]["id"]
                        for _ in range(3):
                            await call(mcp, "get_job", {"job": job})
                        text = (await http.get("/metrics")).text
                        calls = {
                            (labels["gen_ai_tool_name"], labels["outcome"], labels["network_transport"]): value
                            for labels, value in _samples(text, "mcp_server_operation_duration_seconds_count")
                        }
                        assert calls[("get_job", "ok", "tcp")] == 3 and calls[("find_jobs", "ok", "tcp")] == 1
                        cache = {
                            (lab_["data_class"], lab_["result"]): v
                            for lab_, v in _samples(text, "resync_cache_events_total")
                        }
                        hits = sum(v for (_, result), v in cache.items() if result == "hit")
                        assert hits >= 2 and cache[("query", "miss")] == 1  # the repeats came from the cache
                        assert _samples(text, "resync_breaker_state") == [({"engine": "lab"}, 0.0)]
                        assert _samples(text, "resync_audit_appends_total")[0][1] >= 4

                        await http.put(f"{lab.engine_url}/_sim/faults", json={"error_rate": 1.0})
                        for _ in range(2):  # the engine fails: the breaker opens
                            await error_text(mcp, "find_jobs", {"status": ["ERROR"], "limit": 3})
                        sick = await http.get("/readyz")
                        assert sick.status_code == 503 and "engine:lab" in sick.json()["problems"]
                        text = (await http.get("/metrics")).text
                        assert _samples(text, "resync_breaker_state") == [({"engine": "lab"}, 2.0)]
                        await http.delete(f"{lab.engine_url}/_sim/faults")

                    redis.kill()
                    redis.wait(timeout=10)
                    gone = await http.get("/readyz")
                    assert gone.status_code == 503 and "redis" in gone.json()["problems"]
            finally:
                proc.terminate()
                proc.wait(timeout=10)
