"""The tool-call pipeline: each stage alone with a fake ``next``, then the assembled chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mcp import Client
from structlog.testing import capture_logs

from resync_mcp.app import App
from resync_mcp.cache.stage import CacheStage
from resync_mcp.clock import FakeClock
from resync_mcp.errors import NotAllowed, NotFound
from resync_mcp.resilience.stages import BreakerStage, BulkheadStage, RetryStage
from resync_mcp.security.policy import Allow, NeedsConfirmation, Policy, Principal
from resync_mcp.server.pipeline import (
    AuditStage,
    AuthorizeStage,
    ErrorBoundary,
    FreshnessStage,
    LogStage,
    Next,
    Pipeline,
    ToolCall,
    ToolFailure,
    authz_var,
)
from resync_mcp.services.views import Result
from resync_mcp.simulator import Simulator
from resync_mcp.tws.upstream import Fetched, freshness_var, scope_var
from tests.conftest import call as call_tool

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
CALL = ToolCall("get_job", {"job": "PAYROLL-SECRET"}, "demo")


def principal(scope: str, role: str = "viewer") -> Principal:
    return Principal(f"user-{scope}", frozenset({role}), scope=scope)


def returning(value: Any, seen: list[ToolCall] | None = None) -> Next:
    async def nxt(call: ToolCall) -> Any:
        if seen is not None:
            seen.append(call)
        return value

    return nxt


def raising(exc: Exception) -> Next:
    async def nxt(call: ToolCall) -> Any:
        raise exc

    return nxt


# ------------------------------------------------------------------ Pipeline itself
async def test_stages_run_in_list_order_first_outermost() -> None:
    trace: list[str] = []

    class Mark:
        def __init__(self, name: str) -> None:
            self.name = name

        async def __call__(self, call: ToolCall, next: Next) -> Any:
            trace.append(f">{self.name}")
            result = await next(call)
            trace.append(f"<{self.name}")
            return result

    async def handler(call: ToolCall) -> str:
        trace.append("tool")
        return "done"

    assert await Pipeline([Mark("a"), Mark("b")]).run(CALL, handler) == "done"
    assert trace == [">a", ">b", "tool", "<b", "<a"]


# ------------------------------------------------------------------ ErrorBoundary
async def test_error_boundary_turns_known_errors_into_their_sentence() -> None:
    with pytest.raises(ToolFailure) as info:
        await ErrorBoundary()(CALL, raising(NotFound("Job x was not found.", hint="Use find_jobs.")))
    assert "Job x was not found." in str(info.value) and "find_jobs" in str(info.value)


async def test_error_boundary_hides_unexpected_errors_behind_a_correlation_id() -> None:
    with capture_logs() as logs, pytest.raises(ToolFailure) as info:
        await ErrorBoundary()(CALL, raising(KeyError("secret-internal-detail")))
    text = str(info.value)
    assert "secret-internal-detail" not in text and CALL.correlation_id in text
    assert any(e["event"] == "tool_crashed" and e["correlation_id"] == CALL.correlation_id for e in logs)


# ------------------------------------------------------------------ LogStage
async def test_log_stage_records_outcome_and_latency_but_not_arguments() -> None:
    clock = FakeClock()

    async def slow(call: ToolCall) -> str:
        clock.advance(0.25)
        return "ok"

    with capture_logs() as logs:
        await LogStage(clock)(CALL, slow)
        with pytest.raises(ValueError):
            await LogStage(clock)(CALL, raising(ValueError("boom")))
    lines = [e for e in logs if e["event"] == "tool_call"]
    assert [(e["outcome"], e["ms"]) for e in lines] == [("ok", 250.0), ("error", 0.0)]
    assert not any("PAYROLL-SECRET" in str(v) for e in lines for v in e.values())  # arguments stay out


# ------------------------------------------------------------------ AuthorizeStage
async def test_authorize_sets_the_scope_for_the_call_and_restores_it() -> None:
    seen: list[str] = []

    async def nxt(call: ToolCall) -> str:
        seen.append(scope_var.get())
        return "ok"

    assert await AuthorizeStage(principal("team-a"))(CALL, nxt) == "ok"
    assert seen == ["team-a"] and scope_var.get() == "local"
    with pytest.raises(RuntimeError):
        await AuthorizeStage(principal("team-b"))(CALL, raising(RuntimeError("x")))
    assert scope_var.get() == "local"  # restored on failure too


async def test_authorize_denies_before_the_tool_runs_and_says_why() -> None:
    seen: list[ToolCall] = []
    kill = ToolCall("kill_job", {"job": "x", "reason": "r"}, "demo")
    with pytest.raises(NotAllowed) as info:
        await AuthorizeStage(principal("s", role="viewer"))(kill, returning("done", seen))
    assert seen == [] and "operate" in str(info.value)
    stage = AuthorizeStage(principal("s", role="operator"), Policy(confirm=frozenset({"kill_job"})))

    async def decision(call: ToolCall) -> object:
        authz = authz_var.get()
        assert authz is not None
        return authz[1]

    assert isinstance(await stage(kill, decision), NeedsConfirmation)
    assert isinstance(await stage(ToolCall("get_job", {"job": "x"}, "demo"), decision), Allow)


async def test_scope_reaches_the_cache_key_end_to_end(app: App, mcp: Client, sim: Simulator) -> None:
    sim.state()
    job = sim.plan.jobs[0]
    client = app.engines.get("demo")
    await call_tool(mcp, "get_job", {"job": job.id})
    before = client.requests_made
    await call_tool(mcp, "get_job", {"job": job.id})
    assert client.requests_made == before  # same scope: a hit
    app.pipeline.stages[3] = AuthorizeStage(principal("another-team"))
    await call_tool(mcp, "get_job", {"job": job.id})
    assert client.requests_made == before + 1  # another scope never reads the first one's entry


# ------------------------------------------------------------------ AuditStage
async def test_audit_seam_passes_calls_and_errors_through_unchanged() -> None:
    seen: list[ToolCall] = []
    marker = object()
    assert await AuditStage()(CALL, returning(marker, seen)) is marker
    assert seen == [CALL]
    err = NotFound("gone")
    with pytest.raises(NotFound) as info:
        await AuditStage()(CALL, raising(err))
    assert info.value is err


# ------------------------------------------------------------------ FreshnessStage
def fetched(age_s: float, *, stale: bool = False) -> Fetched:
    return Fetched(200, b"{}", "application/json", T0 - timedelta(seconds=age_s), stale=stale, source="l1")


async def test_freshness_takes_the_oldest_read_and_the_stale_mark() -> None:
    async def nxt(call: ToolCall) -> Result:
        collector = freshness_var.get()
        assert collector is not None
        collector.record(fetched(5))
        collector.record(fetched(90, stale=True))
        collector.record(fetched(1))
        return Result(engine="demo", as_of=T0)

    result = await FreshnessStage()(CALL, nxt)
    assert result.as_of == T0 - timedelta(seconds=90) and result.stale is True
    assert freshness_var.get() is None


async def test_freshness_leaves_results_without_reads_alone() -> None:
    result = Result(engine="demo", as_of=T0)
    assert await FreshnessStage()(CALL, returning(result)) is result
    assert await FreshnessStage()(CALL, returning({"plain": 1})) == {"plain": 1}


# ------------------------------------------------------------------ the assembled chain
def test_composition_root_assembles_both_chains_in_the_documented_order(app: App) -> None:
    assert [type(s) for s in app.pipeline.stages] == [
        ErrorBoundary,
        LogStage,
        AuditStage,  # outside authorize, so that denied calls are recorded too
        AuthorizeStage,
        FreshnessStage,
    ]
    assert [type(s) for s in app.upstream.stages()] == [CacheStage, BreakerStage, RetryStage, BulkheadStage]
