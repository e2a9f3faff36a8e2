"""The upstream chain end to end, through the in-memory MCP client and the simulator's
fault modes: cache hits and staleness, retries, the breaker, auth expiry, health."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mcp import Client

from resync_mcp.app import App, build_app
from resync_mcp.clock import FakeClock
from resync_mcp.config import Settings
from resync_mcp.simulator import Simulator
from resync_mcp.simulator.faults import Faults
from tests.conftest import call, error_text

pytestmark = pytest.mark.anyio


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def app(settings: Settings, clock: FakeClock, sim: Simulator, slept: list[float]) -> App:
    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    return build_app(settings, clock=clock, simulator=sim, sleep=sleep)


def upstream(app: App) -> int:
    return app.engines.get("demo").requests_made


def faults(sim: Simulator) -> Faults:
    assert isinstance(sim.faults, Faults)
    return sim.faults


def a_job(sim: Simulator, status: str = "ABEND") -> Any:
    sim.state()
    return next(j for j in sim.plan.jobs if j.status == status)


async def test_repeated_reads_are_served_from_cache(app: App, mcp: Client, sim: Simulator) -> None:
    job = a_job(sim)
    first = await call(mcp, "get_job", {"job": job.id})
    before = upstream(app)
    second = await call(mcp, "get_job", {"job": job.id})
    assert upstream(app) == before and second == first and second["stale"] is False


async def test_stale_data_is_marked_with_its_original_time(
    app: App, mcp: Client, sim: Simulator, clock: FakeClock
) -> None:
    job = a_job(sim)  # finished: cached for ttl_finished_s
    first = await call(mcp, "get_job", {"job": job.id})
    clock.advance(app.settings.cache.ttl_finished_s + 1)  # expired, inside the revalidation window
    later = await call(mcp, "get_job", {"job": job.id})
    assert later["stale"] is True and later["as_of"] == first["as_of"]
    assert app.upstream.cache is not None
    await app.upstream.cache.drain()
    fresh = await call(mcp, "get_job", {"job": job.id})
    assert fresh["stale"] is False and fresh["as_of"] > first["as_of"]


async def test_503_503_then_200_is_three_attempts_with_backoff(
    app: App, mcp: Client, sim: Simulator, slept: list[float]
) -> None:
    job = a_job(sim)
    faults(sim).configure(burst=2, error_status=503)
    before = upstream(app)
    result = await call(mcp, "get_job", {"job": job.id})
    assert result["job"]["id"] == job.id
    assert upstream(app) - before == 3 and len(slept) == 2


async def test_retry_after_is_honoured(app: App, mcp: Client, sim: Simulator, slept: list[float]) -> None:
    faults(sim).configure(burst=1, error_status=429, retry_after_s=1.5)
    await call(mcp, "plan_summary", {})
    assert slept[0] == 1.5


async def test_breaker_opens_then_fails_fast_without_calling_the_engine(app: App, mcp: Client, sim: Simulator) -> None:
    job = a_job(sim)
    await call(mcp, "get_job", {"job": job.id})  # cached before the engine fails
    faults(sim).configure(error_rate=1.0, error_status=503)
    threshold = app.settings.resilience.breaker_threshold
    for i in range(threshold):
        await error_text(mcp, "find_jobs", {"name": f"NOPE{i}"})
    assert app.upstream.breaker.state("demo").mode == "open"
    sent = upstream(app)
    text = await error_text(mcp, "find_jobs", {"name": "OTHER"})
    assert "circuit breaker is open" in text and "tried again at" in text
    assert upstream(app) == sent  # nothing went to the engine
    health = await call(mcp, "server_health", {})
    assert health["status"] == "degraded" and health["engines"][0]["breaker"] == "open"
    # Cached data is still served while the breaker is open, marked stale once it expires.
    assert (await call(mcp, "get_job", {"job": job.id}))["job"]["id"] == job.id


async def test_expired_credentials_are_not_retried(app: App, mcp: Client, sim: Simulator) -> None:
    faults(sim).configure(auth_expired=True)
    before = upstream(app)
    text = await error_text(mcp, "plan_summary", {})
    assert "rejected the credentials" in text and upstream(app) - before == 1


async def test_connection_resets_are_retried(app: App, mcp: Client, sim: Simulator) -> None:
    faults(sim).configure(reset_rate=1.0)
    text = await error_text(mcp, "plan_summary", {})
    assert "failed" in text and app.upstream.retry.retries >= 2


async def test_cache_off_sends_every_read(settings: Settings, clock: FakeClock, sim: Simulator) -> None:
    app = build_app(
        settings.model_copy(update={"cache": settings.cache.model_copy(update={"enabled": False})}),
        clock=clock,
        simulator=sim,
    )
    async with Client(app.server) as client:
        await call(client, "plan_summary", {})
        once = upstream(app)
        await call(client, "plan_summary", {})
        assert upstream(app) == 2 * once


async def test_fault_admin_endpoint_switches_modes_at_run_time(sim: Simulator, http: httpx.AsyncClient) -> None:
    r = await http.put("/_sim/faults", json={"auth_expired": True})
    assert r.status_code == 200 and r.json()["auth_expired"] is True
    assert (await http.get("/twsd/api/v2/plan/job")).status_code == 401
    assert (await http.put("/_sim/faults", json={"latency_ms": "slow"})).status_code == 400
    assert (await http.put("/_sim/faults", json={"nope": 1})).status_code == 400
    assert (await http.delete("/_sim/faults")).status_code == 200
    assert (await http.get("/twsd/api/v2/plan/job", params={"limit": 1})).status_code == 200


async def test_trickled_answers_arrive_whole(clock: FakeClock) -> None:
    sleeps: list[float] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)

    sim = Simulator.create(2, 30, clock, faults=Faults(sleep=sleep))
    faults(sim).configure(trickle_bytes_per_s=1000)
    async with httpx.AsyncClient(transport=sim.transport(), base_url="http://s", auth=("a", "b")) as c:
        r = await c.get("/twsd/api/v2/plan/job")
    assert r.json()["count"] == 30 and len(sleeps) > 3
