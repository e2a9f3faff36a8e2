"""Progress for long calls and log notices for what an operator should see, as a client gets
them: notifications/progress against its token, notifications/message at its chosen level."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.types import LoggingMessageNotificationParams

from resync_mcp.app import App, build_app
from resync_mcp.clock import FakeClock
from resync_mcp.config import Settings
from resync_mcp.simulator import Simulator
from resync_mcp.simulator.faults import Faults
from tests.conftest import call

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),  # the client's setLevel
]


class Progress:
    def __init__(self) -> None:
        self.seen: list[tuple[float, float | None, str | None]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.seen.append((progress, total, message))


async def test_a_bulk_action_reports_its_steps(app: App) -> None:
    async with Client(app.server) as mcp:
        stream = (await call(mcp, "find_jobs", {"status": ["WAITING"], "limit": 1}))["jobs"][0]["job_stream"]
        args = {"action": "hold", "job_stream": stream, "max_object_affected": 50, "reason": "month end"}
        preview = await call(mcp, "bulk_job_action", {**args, "preview": True})
        token = preview["confirmation_token"]
        report = Progress()
        done = await mcp.call_tool("bulk_job_action", {**args, "confirmation_token": token}, progress_callback=report)
        assert done.structured_content and done.structured_content["outcome"] == "done"
        assert [(p, t) for p, t, _ in report.seen] == [(1, 3), (2, 3), (3, 3)]
        assert "Asking HWA to hold" in str(report.seen[0][2])


async def _failing_app(settings: Settings, clock: FakeClock, sim: Simulator) -> App:
    async def sleep(seconds: float) -> None:  # the retries' waits pass on the fake clock
        clock.advance(seconds)

    app = build_app(settings, clock=clock, simulator=sim, sleep=sleep)
    assert isinstance(sim.faults, Faults)
    sim.faults.configure(error_rate=1.0)  # every request to the engine fails with a 5xx
    return app


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_operator_is_told_of_an_unreachable_engine_and_an_opened_breaker(
    settings: Settings, clock: FakeClock, sim: Simulator, mode: str
) -> None:
    app = await _failing_app(settings, clock, sim)
    messages: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        messages.append(params)

    # legacy (2025): logging/setLevel for the connection; auto (2026): the level rides each request
    extra: dict[str, Any] = {"log_level": "warning"} if mode == "auto" else {}
    async with Client(app.server, mode=mode, logging_callback=on_log, **extra) as mcp:  # type: ignore[arg-type]
        assert mcp.server_capabilities is not None and mcp.server_capabilities.logging is not None
        if mode == "legacy":
            await mcp.set_logging_level("warning")
        for _ in range(6):
            result = await mcp.call_tool("plan_summary", {})
            assert result.is_error
    events = [(m.level, m.data["event"]) for m in messages]
    assert ("error", "engine_unreachable") in events and ("warning", "breaker_opened") in events
    assert all(m.logger == "resync-mcp" and m.data["engine"] == "demo" for m in messages)
    assert "demo" in str(next(m.data["message"] for m in messages if m.data["event"] == "breaker_opened"))


async def test_a_level_above_the_notices_silences_them(settings: Settings, clock: FakeClock, sim: Simulator) -> None:
    app = await _failing_app(settings, clock, sim)
    messages: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        messages.append(params)

    async with Client(app.server, mode="legacy", logging_callback=on_log) as mcp:  # type: ignore[arg-type]
        await mcp.set_logging_level("critical")
        for _ in range(6):
            await mcp.call_tool("plan_summary", {})
    assert messages == []


async def test_stale_data_is_announced(settings: Settings, clock: FakeClock, sim: Simulator) -> None:
    app = build_app(settings, clock=clock, simulator=sim)
    messages: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        messages.append(params)

    async with Client(app.server, mode="legacy", logging_callback=on_log) as mcp:  # type: ignore[arg-type]
        job = (await call(mcp, "find_jobs", {"status": ["ERROR"], "limit": 1}))["jobs"][0]
        await call(mcp, "get_job", {"job": job["id"]})
        clock.advance(settings.cache.ttl_finished_s + 1)  # past its freshness, within max_stale_s
        stale = await call(mcp, "get_job", {"job": job["id"]})
    assert stale["stale"] is True
    notice = next(m for m in messages if m.data["event"] == "stale_data")
    assert notice.level == "warning" and notice.data["tool"] == "get_job" and "cached data" in notice.data["message"]
