"""A server that makes its own demo engine runs it off its event loop: while the simulator is
busy with one request (a stand-in for rendering a 2,000-job page: its thread blocked, as CPU
work blocks it), the server answers a call it can answer from its cache. With the simulator on
the server's own loop, that call would wait for the page to finish."""

from __future__ import annotations

import threading
import time
from typing import Any

import anyio
import pytest
from mcp import Client

from resync_mcp.app import build_app
from resync_mcp.config import Settings
from tests.conftest import call

pytestmark = pytest.mark.anyio


async def test_a_call_is_answered_while_the_simulator_is_busy_with_another(settings: Settings) -> None:
    app = build_app(settings)  # no simulator handed in: the app makes its own, threaded
    sim = app.simulators["demo"]
    busy, order = threading.Event(), []
    original = sim.faults.before

    async def heavy_pages(request: Any) -> Any:
        if request.url.path.endswith("/plan/job") and "ERROR" in request.url.query:
            busy.set()
            time.sleep(0.5)  # noqa: ASYNC251 - on purpose: the simulator thread taken, as by CPU work
            order.append("page served")
        return await original(request)

    sim.faults.before = heavy_pages
    await app.start()
    try:
        async with Client(app.server) as mcp:
            job = (await call(mcp, "find_jobs", {"limit": 1}))["jobs"][0]["id"]
            await call(mcp, "get_job", {"job": job})  # now in the cache: answering it needs only the server
            async with anyio.create_task_group() as tg:
                tg.start_soon(call, mcp, "find_jobs", {"status": ["ERROR"], "limit": 5})
                await anyio.to_thread.run_sync(busy.wait, 10)
                await call(mcp, "get_job", {"job": job})
                order.append("get_job answered")
    finally:
        await app.aclose()
    assert order == ["get_job answered", "page served"]
