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


async def test_a_fresh_hit_is_answered_before_a_request_is_built_and_only_for_its_own_scope(
    app: App, sim: Simulator
) -> None:
    """The client asks the cache (its outermost stage) before building a request: a fresh hit
    never reaches the stages behind it nor the engine, counts as a hit, and is the same answer
    the stage gives; another scope, an expired entry or a fresh read go through as before."""
    from resync_mcp.tws.upstream import scope_var

    client = app.engines.get("demo")
    cache = app.upstream.cache
    assert cache is not None and client._probe is cache
    job = sim.plan.jobs[11].id
    entered: list[str] = []
    real = client._fetch

    async def counting(call):  # type: ignore[no-untyped-def]
        entered.append(call.scope)
        return await real(call)

    client._fetch = counting
    await client.get_job(job)
    hits = sum(c["hit"] for c in cache.stats.values())
    sent = client.requests_made
    for _ in range(3):
        await client.get_job(job)
    assert entered == ["local"] and client.requests_made == sent  # no request built, none sent
    assert sum(c["hit"] for c in cache.stats.values()) == hits + 3
    token = scope_var.set("team-b")
    try:
        await client.get_job(job)  # another scope's key: through the stage, to the engine
    finally:
        scope_var.reset(token)
    assert entered == ["local", "team-b"] and client.requests_made == sent + 1
    await client.get_job(job, fresh=True)  # a precondition read never takes the shortcut
    assert len(entered) == 3 and client.requests_made == sent + 2
    app.clock.advance(3600)  # type: ignore[attr-defined]  # expired: the stage decides (refetch)
    await client.get_job(job)
    assert len(entered) == 4
