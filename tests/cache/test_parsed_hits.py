"""A cache hit is not parsed again: the client keeps the model beside the very bytes the cache
entry holds, and get_job's view beside that model; an invalidation brings new bytes, new models."""

from __future__ import annotations

import pytest
from mcp import Client

from resync_mcp.app import App
from resync_mcp.simulator import Simulator
from tests.conftest import call

pytestmark = pytest.mark.anyio


async def test_a_hit_reuses_the_parsed_model_until_the_entry_changes(app: App, sim: Simulator) -> None:
    client = app.engines.get("demo")
    job = sim.plan.jobs[7].id
    first = await client.get_job(job)  # from the engine
    second = await client.get_job(job)  # a hit: parsed once, kept
    assert await client.get_job(job) is second and first is not second
    assert app.upstream.cache is not None
    await app.upstream.cache.invalidate("demo", [job])
    assert await client.get_job(job) is not second  # new bytes from the engine


async def test_get_jobs_kept_view_never_outlives_a_write(app: App, mcp: Client, sim: Simulator) -> None:
    sim.state()
    job = next(j for j in sim.plan.jobs if j.status == "HOLD" and not j.held).id
    before = [await call(mcp, "get_job", {"job": job}) for _ in range(3)]
    assert before[1]["job"] == before[2]["job"] and "hold" in before[2]["allowed_actions"]
    await call(mcp, "hold_job", {"job": job})
    after = await call(mcp, "get_job", {"job": job})
    assert after["job"]["common_status"] == "HELD" and "release" in after["allowed_actions"]
