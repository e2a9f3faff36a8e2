"""stdio's fast first answer: tools/list from the shipped surface while the app is built, every
other request held until it is ready, and the shipped surface equal to a real build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from anyio import wait_all_tasks_blocked
from mcp import Client
from mcp.shared.exceptions import MCPError

from resync_mcp.app import build_app
from resync_mcp.clock import FakeClock
from resync_mcp.config import Settings
from resync_mcp.server.gate import SURFACE, first_listing, live_surface
from resync_mcp.server.shell import make_shell
from resync_mcp.simulator import Simulator
from tests.conftest import call
from tests.rawstdio import HANDSHAKE, raw_server

pytestmark = pytest.mark.anyio


def test_the_shipped_surface_is_what_a_build_publishes() -> None:
    shipped = json.loads(SURFACE.read_text())
    assert shipped == live_surface(), "stale: run `python -m resync_mcp.server.gate` to rewrite surface.json"


async def test_tools_are_listed_before_the_build_and_calls_wait_for_it(
    settings: Settings, clock: FakeClock, sim: Simulator
) -> None:
    listing = first_listing(settings.limits, settings.local_tools())
    assert listing is not None and {t.name for t in listing} == settings.local_tools()
    shell = make_shell(version="test", listing=listing)
    async with Client(shell.mcp) as mcp:
        early = (await mcp.list_tools()).tools
        assert [t.name for t in early] == [t.name for t in listing]  # answered with no app at all
        answers: list[dict[str, object]] = []

        async def ask() -> None:
            answers.append(await call(mcp, "plan_summary", {}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(ask)
            await wait_all_tasks_blocked()
            assert answers == [] and not shell.gate.ready.is_set()  # held, not refused
            build_app(settings, clock=clock, simulator=sim, shell=shell)
            shell.gate.open()
        assert answers[0]["total_jobs"] == len(sim.plan.jobs)
        late = (await mcp.list_tools()).tools
        assert [t.model_dump() for t in late] == [t.model_dump() for t in early]  # the same surface


async def test_other_limits_make_the_list_wait_for_the_build(settings: Settings) -> None:
    limits = settings.limits.model_copy(update={"max_limit": 100})
    assert first_listing(limits, settings.local_tools()) is None  # its page sizes differ: not the shipped list


async def test_a_failed_build_is_answered_with_its_sentence() -> None:
    shell = make_shell(version="test", listing=None)
    shell.gate.fail("resync-mcp could not start: The audit folder cannot be used: /x: Permission denied.")
    async with Client(shell.mcp) as mcp:
        with pytest.raises(MCPError) as info:
            await mcp.list_tools()
    assert "audit folder cannot be used" in info.value.error.message


def test_a_stdio_server_lists_the_same_tools_before_and_after_it_is_ready(tmp_path: Path) -> None:
    call_ = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "plan_summary", "arguments": {}}}
    with raw_server(tmp_path, home=tmp_path / "home") as server:
        server.send(*HANDSHAKE, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, call_)
        answered = server.until(3)  # the call's answer: the app is built
        server.send({"jsonrpc": "2.0", "id": 4, "method": "tools/list"})
        after = server.until(4)
    assert answered["result"]["structuredContent"]["total_jobs"] == 50
    assert server.answers[2]["result"] == after["result"]


@pytest.mark.parametrize("redis_url", [None, "redis://127.0.0.1:1/0"])
def test_redis_is_imported_only_when_configured(redis_url: str | None, tmp_path: Path) -> None:
    """Its client costs start-up time; a server without Redis never loads it (no connection is
    made at build either way)."""
    code = (
        "import sys\n"
        "from resync_mcp.app import build_app\n"
        "from resync_mcp.config import load_settings\n"
        "app = build_app(load_settings(None, {'demo': {'enabled': True, 'jobs': 50}}))\n"
        "print('redis' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESYNC_")} | {"HOME": str(tmp_path)}
    if redis_url:
        env["RESYNC_CACHE__REDIS_URL"] = redis_url
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == str(redis_url is not None)
