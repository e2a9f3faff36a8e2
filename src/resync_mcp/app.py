"""The composition root: settings -> HWA clients -> services -> pipeline -> MCP server."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

import httpx
from mcp.server.mcpserver import MCPServer

from resync_mcp import __version__
from resync_mcp.clock import Clock, SystemClock
from resync_mcp.config import DEMO_ENGINE, EngineSettings, Settings
from resync_mcp.server import build_server
from resync_mcp.server.pipeline import ErrorBoundary, LogStage, Pipeline
from resync_mcp.services.engines import EngineRegistry
from resync_mcp.services.plan import PlanService
from resync_mcp.simulator import Simulator
from resync_mcp.tws.client import HwaClient

SIM_BASE_URL = "http://demo.simulator.invalid"  # never resolved: the transport is in-process


@dataclass
class App:
    settings: Settings
    clock: Clock
    engines: EngineRegistry
    service: PlanService
    pipeline: Pipeline
    server: MCPServer
    simulators: dict[str, Simulator] = field(default_factory=dict)

    async def aclose(self) -> None:
        await self.engines.aclose()


def http_client_for(name: str, engine: EngineSettings) -> httpx.AsyncClient:
    """An httpx client carrying the engine's URL, TLS policy, timeouts and credentials.

    Raises:
        ConfigError: when a secret file cannot be read.
    """
    secret = engine.secret()
    auth: httpx.Auth | None = None
    headers = {"Accept": "application/json"}
    if engine.auth == "basic" and secret is not None and engine.username:
        auth = httpx.BasicAuth(engine.username, secret.get_secret_value())
    elif engine.auth == "bearer" and secret is not None:
        headers["Authorization"] = f"Bearer {secret.get_secret_value()}"
    verify: ssl.SSLContext | bool = engine.verify_tls
    if engine.verify_tls and engine.ca_bundle is not None:
        verify = ssl.create_default_context(cafile=str(engine.ca_bundle))
    timeout = httpx.Timeout(engine.read_timeout, connect=engine.connect_timeout)
    return httpx.AsyncClient(base_url=engine.base_url, auth=auth, headers=headers, verify=verify, timeout=timeout)


def build_app(settings: Settings, *, clock: Clock | None = None, simulator: Simulator | None = None) -> App:
    """Wire everything once. ``simulator`` replaces the demo engine's plan (tests inject one)."""
    clock = clock or SystemClock()
    clients: dict[str, HwaClient] = {}
    sims: dict[str, Simulator] = {}
    for name, engine in settings.engines.items():
        clients[name] = HwaClient(
            http_client_for(name, engine), engine=name, api_path=engine.api_path, plan_id=engine.plan_id
        )
    if settings.demo.enabled:
        sim = simulator or Simulator.create(settings.demo.seed, settings.demo.jobs, clock)
        sims[DEMO_ENGINE] = sim
        http = httpx.AsyncClient(transport=sim.transport(), base_url=SIM_BASE_URL, auth=("demo", "demo"))
        clients[DEMO_ENGINE] = HwaClient(http, engine=DEMO_ENGINE)
    engines = EngineRegistry(clients, settings.resolved_default_engine())
    service = PlanService(engines, settings.limits, clock)
    pipeline = Pipeline([ErrorBoundary(), LogStage(clock)])
    server = build_server(service, pipeline, settings.limits, version=__version__, log_level=settings.log_level)
    return App(settings, clock, engines, service, pipeline, server, sims)
