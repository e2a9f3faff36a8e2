from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import structlog
from mcp import Client

from resync_mcp.app import App, build_app
from resync_mcp.clock import FakeClock
from resync_mcp.config import Settings, load_settings
from resync_mcp.simulator import Simulator
from resync_mcp.tws.client import HwaClient

SEED = 7
JOBS = 600


def hints(tool: Any) -> dict[str, bool]:
    """A tool's behaviour hints with the MCP spec's defaults filled in (the server sends only
    the hints that differ from them): readOnly false, destructive true, idempotent false,
    openWorld true; destructive and idempotent mean nothing for a read-only tool."""
    a = tool.annotations
    read_only = bool(a and a.read_only_hint)
    got = {
        "read_only": read_only,
        "destructive": False if read_only else (a.destructive_hint if a and a.destructive_hint is not None else True),
        "idempotent": True if read_only else bool(a and a.idempotent_hint),
        "open_world": a.open_world_hint if a and a.open_world_hint is not None else True,
    }
    return got


def require(module: str, why: str) -> None:
    """Import ``module`` or skip, except in CI (``CI`` set: .ci/run sets it), where a missing part
    of the stack is a failure: a suite that quietly skips proves nothing."""
    import importlib
    import os

    try:
        importlib.import_module(module)
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip(why, allow_module_level=True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _own_directory(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test runs in a directory of its own, with a HOME of its own: the audit chain, the
    knowledge base and the keys an app creates in the user's folders never touch the real ones."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    home = tmp_path_factory.mktemp("home")
    for var, sub in (
        ("HOME", ""),
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_DATA_HOME", ".local/share"),
    ):
        monkeypatch.setenv(var, str(home / sub))


@pytest.fixture(autouse=True)
def _structlog_config() -> Iterator[None]:
    """CLI tests configure logging; restore it so a level set there cannot hide later logs."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Simulator:
    return Simulator.create(SEED, JOBS, clock)


@pytest.fixture
def http(sim: Simulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=sim.transport(), base_url="http://sim.invalid", auth=("u", "p"))


@pytest.fixture
def hwa(http: httpx.AsyncClient) -> HwaClient:
    return HwaClient(http, engine="sim")


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Settings:
    monkeypatch.chdir(tmp_path)  # no stray config/resync.toml is picked up
    for key in list(__import__("os").environ):
        if key.startswith("RESYNC_"):
            monkeypatch.delenv(key)
    return load_settings(None, {"demo": {"enabled": True, "seed": SEED, "jobs": JOBS}})


@pytest.fixture
def app(settings: Settings, clock: FakeClock, sim: Simulator) -> App:
    return build_app(settings, clock=clock, simulator=sim)


@pytest.fixture
async def mcp(app: App) -> AsyncIterator[Client]:
    async with Client(app.server) as client:
        yield client


async def call(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """Call a tool that must succeed and return its structured content."""
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


async def error_text(client: Client, tool: str, args: dict[str, Any]) -> str:
    """Call a tool that must fail and return its error sentence."""
    result = await client.call_tool(tool, args)
    assert result.is_error, result.structured_content
    text = result.content[0].text  # type: ignore[union-attr]
    assert "Traceback" not in text
    return str(text)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """CI's Redis (RESYNC_TEST_REDIS_URL, started by .ci/run) or one started for this session."""
    import os

    from tests.redis_fixtures import redis_process

    url = os.environ.get("RESYNC_TEST_REDIS_URL")
    if url:
        yield url
        return
    with redis_process() as (own, _proc):
        yield own
