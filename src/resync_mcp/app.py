"""The composition root: settings -> HWA clients -> services -> pipeline -> MCP server."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ssl
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio
import httpx
import structlog
from mcp.server.mcpserver import MCPServer

from resync_mcp import __version__
from resync_mcp.audit.log import AuditLog
from resync_mcp.audit.setup import open_store
from resync_mcp.audit.store import AuditUnavailable
from resync_mcp.cache.codec import Codec
from resync_mcp.cache.policy import Ttls
from resync_mcp.cache.stage import CacheStage
from resync_mcp.clock import Clock, SystemClock
from resync_mcp.collector import no_full_collections
from resync_mcp.config import DEMO_ENGINE, EngineSettings, Settings
from resync_mcp.graph.store import EmbeddedGraphStore, GraphStore
from resync_mcp.knowledge.base import Embedder, KnowledgeBase, KnowledgeUnavailable
from resync_mcp.metrics import Metrics, Sources
from resync_mcp.resilience.breaker import BreakerPolicy
from resync_mcp.resilience.retry import RetryPolicy
from resync_mcp.resilience.stages import BreakerStage, BulkheadStage, RetryStage, Sleep
from resync_mcp.security.policy import Policy, default_confirm
from resync_mcp.security.ratelimit import RateLimits
from resync_mcp.server.build import build_server
from resync_mcp.server.pipeline import AuditStage, AuthorizeStage, ErrorBoundary, FreshnessStage, LogStage, Pipeline
from resync_mcp.server.shell import Shell
from resync_mcp.services.control.safety import ConfirmationTokens, Idempotency, IdempotencyStore, Tokens
from resync_mcp.services.control.service import ControlService
from resync_mcp.services.control.views import ActionResult
from resync_mcp.services.engines import EngineRegistry
from resync_mcp.services.graph import GraphService
from resync_mcp.services.health import HealthService
from resync_mcp.services.knowledge import KnowledgeService
from resync_mcp.services.plan import PlanService
from resync_mcp.simulator import Simulator
from resync_mcp.simulator.reads import warm_indexes
from resync_mcp.tws.acting import ActingCredentials
from resync_mcp.tws.client import HwaClient
from resync_mcp.tws.upstream import UpstreamStage

SIM_BASE_URL = "http://demo.simulator.invalid"  # never resolved: the transport is in-process

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from resync_mcp.cache.bus import Bus


@dataclass
class Upstream:
    """The stages around each HWA request, shared by every engine (each keeps per-engine state)."""

    cache: CacheStage | None
    breaker: BreakerStage
    retry: RetryStage
    bulkhead: BulkheadStage
    redis: Redis | None = None
    bus: Bus | None = None

    def stages(self) -> list[UpstreamStage]:
        # The order is the design: serve from cache first (and stale when the engine fails),
        # then refuse fast if the engine is failing, retry reads, and bound concurrency.
        head: list[UpstreamStage] = [self.cache] if self.cache is not None else []
        return [*head, self.breaker, self.retry, self.bulkhead]


@dataclass
class App:
    settings: Settings
    clock: Clock
    engines: EngineRegistry
    service: PlanService
    pipeline: Pipeline
    upstream: Upstream
    server: MCPServer
    simulators: dict[str, Simulator] = field(default_factory=dict)
    control: ControlService | None = None
    audit: AuditLog | None = None
    knowledge: KnowledgeBase | None = None
    knowledge_service: KnowledgeService | None = None
    graph: GraphService | None = None
    metrics: Metrics | None = None
    health: HealthService | None = None

    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    warm_thread: threading.Thread | None = None

    async def start(self) -> None:
        """Start background work (the Redis bus listener, the audit group commit). Startup
        never waits on Redis."""
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        if self.upstream.bus is not None:
            self._tasks.append(loop.create_task(self.upstream.bus.run()))
        if self.audit is not None:
            self._tasks.append(loop.create_task(self._audit_commits(self.audit)))
        if self.graph is not None:
            await self.graph.store.start()  # Neo4j: constraints and indexes; embedded: nothing
            if self.settings.graph.build_at_start:
                for name in self.engines.names:
                    self.graph.whole.current(self.engines.get(name))  # starts the background read
        if self.knowledge is not None and self.settings.knowledge.warm_up:
            self._tasks.append(loop.create_task(self._warm_up(self.knowledge)))

    async def _warm_up(self, kb: KnowledgeBase) -> None:
        """Open the database, ingest the shipped knowledge and load the model off the call path,
        so that the first search costs milliseconds. It waits ``warm_up_delay_s`` first: the
        client's first requests (initialize, tools/list) must not compete with torch's import.
        A daemon thread, so that a server told to exit never waits for a model to load."""
        await asyncio.sleep(self.settings.knowledge.warm_up_delay_s)
        log = structlog.get_logger("resync_mcp.knowledge")

        def warm() -> None:
            try:
                kb.warm_up()
                log.info("knowledge_warm", model_load_s=round(kb.embedder.load_seconds or 0.0, 2))
            except KnowledgeUnavailable as exc:  # one sentence: the first knowledge call says it again
                log.warning("knowledge_unavailable", message=exc.message, hint=exc.hint)
            except Exception as exc:  # a failed warm-up only means the first search pays the cost
                log.warning("warm_up_failed", error=type(exc).__name__)

        self.warm_thread = threading.Thread(target=warm, name="knowledge-warm-up", daemon=True)
        self.warm_thread.start()

    async def _audit_commits(self, audit: AuditLog) -> None:
        """The group commit, in a worker thread: its fsync never holds the event loop. It runs at
        twice the group rate, and at once when an append finds a batch full or due."""
        every = self.settings.audit.group_commit_ms / 2000
        wake = asyncio.Event()
        loop = asyncio.get_running_loop()

        def kick() -> None:  # a batch is full or due
            loop.call_soon_threadsafe(wake.set)

        audit.store.kick = kick
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), every)
                wake.clear()
                with contextlib.suppress(AuditUnavailable):  # counted by the store; health shows it
                    await anyio.to_thread.run_sync(audit.store.flush)
        finally:
            audit.store.kick = None

    async def idle(self) -> None:
        """Return once no tool call is running (a graceful shutdown bounds the wait)."""
        await self.pipeline.idle()

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.upstream.cache is not None:
            await self.upstream.cache.drain()
        if self.upstream.redis is not None:
            await self.upstream.redis.aclose()
        if self.audit is not None:
            self.audit.store.close()
        if self.graph is not None:
            await self.graph.whole.close()
            await self.graph.store.close()
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


def safety_stores(settings: Settings, clock: Clock, redis: Redis | None) -> tuple[Tokens, Idempotency[ActionResult]]:
    """Confirmation tokens and idempotency keys: shared by the fleet through Redis when it is
    configured (writes then refuse while it is down), in process otherwise."""
    sec, c = settings.security, settings.cache
    if redis is None:
        return ConfirmationTokens(clock, sec.confirmation_ttl_s), IdempotencyStore(clock, sec.idempotency_ttl_s)
    from resync_mcp.services.control.shared import RedisConfirmationTokens, RedisIdempotency

    timeout = c.redis_timeout_ms / 1000
    return (
        RedisConfirmationTokens(redis, clock, sec.confirmation_ttl_s, prefix=c.redis_prefix, timeout_s=timeout),
        RedisIdempotency(
            redis,
            sec.idempotency_ttl_s,
            dump=lambda r: r.model_dump_json(),
            load=ActionResult.model_validate_json,
            prefix=c.redis_prefix,
            timeout_s=timeout,
            wait_s=settings.resilience.total_timeout_s + 5,
        ),
    )


def acting_credentials(name: str, engine: EngineSettings) -> ActingCredentials | None:
    path = engine.acting_credentials_file
    return None if path is None else ActingCredentials(path, engine=name, scheme=engine.auth)


def graph_store(settings: Settings) -> GraphStore:
    """The embedded store, or Neo4j when configured (the driver connects lazily)."""
    g = settings.graph
    if g.backend == "neo4j" and g.neo4j_uri:
        from resync_mcp.graph.neo4j_store import Neo4jGraphStore

        password = g.neo4j_password.get_secret_value() if g.neo4j_password else None
        return Neo4jGraphStore.connect(g.neo4j_uri, g.neo4j_user, password, g.neo4j_database)
    return EmbeddedGraphStore()


def build_upstream(settings: Settings, clock: Clock, sleep: Sleep | None = None) -> Upstream:
    c, r = settings.cache, settings.resilience
    ttls = Ttls(
        running_s=c.ttl_running_s,
        finished_s=c.ttl_finished_s,
        log_running_s=c.ttl_log_running_s,
        log_finished_s=c.ttl_log_finished_s,
        listing_s=c.ttl_listing_s,
        object_s=c.ttl_object_s,
        engine_s=c.ttl_engine_s,
        not_found_s=c.ttl_not_found_s,
        swr_s=c.swr_s,
        max_stale_s=c.max_stale_s,
    )
    retry = RetryPolicy(
        attempts=r.retry_attempts,
        base_s=r.retry_base_s,
        cap_s=r.retry_cap_s,
        max_retry_after_s=r.retry_max_retry_after_s,
        budget_ratio=r.retry_budget_ratio,
    )
    up = Upstream(
        cache=CacheStage(ttls, clock, max_entries=c.l1_max_entries, max_bytes=c.l1_max_bytes) if c.enabled else None,
        breaker=BreakerStage(
            BreakerPolicy(r.breaker_threshold, r.breaker_open_s, r.breaker_probes, r.breaker_timeout_threshold), clock
        ),
        retry=RetryStage(retry, clock, sleep),
        bulkhead=BulkheadStage(r.bulkhead_limit, r.bulkhead_queue, clock.monotonic),
    )
    timeout = c.redis_timeout_ms / 1000
    if c.redis_url:  # shared safety state and rate limits; the L2 cache too when the cache is on
        # No connection is made here: the first operation connects, bounded by the timeout.
        from redis.asyncio import Redis  # imported only when configured (start-up time)

        up.redis = Redis.from_url(c.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
    if up.redis is not None and up.cache is not None:
        from resync_mcp.cache.bus import Bus
        from resync_mcp.cache.l2 import RedisL2

        up.cache.l2 = RedisL2(
            up.redis,
            Codec(c.l2_key_bytes()),
            clock,
            prefix=c.redis_prefix,
            timeout_s=timeout,
            breaker=BreakerPolicy(r.redis_breaker_threshold, r.redis_breaker_open_s, 1),
        )
        up.bus = Bus(
            up.redis,
            channel=c.redis_prefix + "events",
            on_invalidate=up.cache.invalidate_local,
            on_breaker_open=up.breaker.force_open,
            on_lost=up.cache.flush_local,
            sleep=sleep,
        )
        up.cache.bus = up.bus
        up.cache.bus_down_ttl_s = c.bus_down_ttl_s
        up.breaker.on_open = up.bus.publish_breaker_open
    return up


def build_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    simulator: Simulator | None = None,
    sleep: Sleep | None = None,
    shell: Shell | None = None,
) -> App:
    """Wire everything once. ``simulator`` replaces the demo engine's plan and ``sleep`` the
    retry wait (tests inject both); ``shell`` is a server already answering (stdio's fast
    start), on which the tools are registered."""
    clock = clock or SystemClock()
    upstream = build_upstream(settings, clock, sleep)
    stages = upstream.stages()
    timeout = settings.resilience.total_timeout_s
    metrics = Metrics()
    clients: dict[str, HwaClient] = {}
    sims: dict[str, Simulator] = {}
    for name, engine in settings.engines.items():
        clients[name] = HwaClient(
            http_client_for(name, engine),
            engine=name,
            api_path=engine.api_path,
            plan_id=engine.plan_id,
            stages=stages,
            clock=clock,
            total_timeout_s=timeout,
            acting=acting_credentials(name, engine),
            observe=metrics.upstream_request,
        )
    if settings.demo.enabled:
        if simulator is None:
            with no_full_collections():
                sim = Simulator.create(settings.demo.seed, settings.demo.jobs, clock)
                warm_indexes(sim)  # as an engine has its indexes before anyone asks
        else:
            sim = simulator
        if simulator is None:
            # The plan lives as long as the server: out of the cyclic collector's way, whose full
            # passes over 100,000 jobs would stall every call (refcounting still frees them).
            gc.freeze()
        sims[DEMO_ENGINE] = sim
        # Its own simulator runs off this loop; one handed in (tests) stays on it, within reach.
        transport = sim.transport(threaded=simulator is None)
        http = httpx.AsyncClient(transport=transport, base_url=SIM_BASE_URL, auth=("demo", "demo"))
        clients[DEMO_ENGINE] = HwaClient(
            http,
            engine=DEMO_ENGINE,
            stages=stages,
            clock=clock,
            total_timeout_s=timeout,
            observe=metrics.upstream_request,
        )
    engines = EngineRegistry(clients, settings.resolved_default_engine())
    service = PlanService(engines, settings.limits, clock)
    # Around every tool call, outermost first. Each HWA request inside then runs through
    # upstream.stages(): cache -> breaker -> retry -> bulkhead -> HTTP.
    sec = settings.security
    principal = settings.local_principal()
    policy = Policy(
        confirm=frozenset(sec.confirm_tools) if sec.confirm_tools is not None else default_confirm(),
        read_only=sec.read_only,
    )
    if upstream.redis is not None:
        from resync_mcp.security.ratelimit import RedisRateLimits
    limits = (
        RedisRateLimits(
            sec.rate_per_minute,
            clock.monotonic,
            upstream.redis,
            wall=lambda: clock.now().timestamp(),
            prefix=settings.cache.redis_prefix,
            timeout_s=settings.cache.redis_timeout_ms / 1000,
        )
        if upstream.redis is not None
        else RateLimits(sec.rate_per_minute, clock.monotonic)
    )
    authorize = AuthorizeStage(principal, policy, limits)
    audit = (
        AuditLog(open_store(settings.audit, clock), authorize.current, replica=settings.audit.replica_id)
        if settings.audit.enabled
        else None
    )
    # Audit sits outside authorize so that denied calls are recorded too.
    pipeline = Pipeline(
        [ErrorBoundary(), LogStage(clock, metrics), AuditStage(audit, clock), authorize, FreshnessStage()]
    )
    health = HealthService(engines, upstream, clock, audit)
    metrics.sources = Sources(
        engines=lambda: list(engines.names),
        breaker=upstream.breaker,
        bulkhead=upstream.bulkhead,
        retry=upstream.retry,
        cache_stats=lambda: {k: dict(v) for k, v in upstream.cache.stats.items()} if upstream.cache else {},
        limits=limits,
        audit=audit,
        in_flight=lambda: pipeline.in_flight,
    )
    gs = settings.graph
    graph = GraphService(
        service,
        clock,
        graph_store(settings),
        max_age_s=gs.max_age_s,
        walk_max_jobs=gs.walk_max_jobs,
        walk_budget_s=gs.walk_budget_s,
        full_check_s=gs.full_check_s,
    )
    tokens, idempotency = safety_stores(settings, clock, upstream.redis)
    control = ControlService(
        engines,
        service,
        clock,
        cache=upstream.cache,
        graph=graph,
        tokens=tokens,
        idempotency=idempotency,
        max_reason_chars=sec.max_reason_chars,
        bulk_cap=sec.bulk_max_objects,
    )
    k = settings.knowledge
    kb = (
        KnowledgeBase(
            k.path,
            chunk_chars=k.chunk_chars,
            chunk_overlap=k.chunk_overlap,
            starter=k.starter_runbooks,
            embedder=Embedder(k.embed_precision),
        )
        if k.enabled
        else None  # nothing is opened or loaded here: the first knowledge call does it
    )
    knowledge = KnowledgeService(kb, service, clock, max_results=k.max_results)
    tools = settings.exposed_tools()
    server = build_server(
        service,
        pipeline,
        settings.limits,
        health,
        control,
        tools,
        audit,
        knowledge,
        graph,
        version=__version__,
        log_level=settings.log_level,
        shell=shell,
        request_state_keys=keys.get_secret_value() if (keys := settings.server.request_state_keys) else None,
    )
    return App(
        settings,
        clock,
        engines,
        service,
        pipeline,
        upstream,
        server,
        sims,
        control,
        audit,
        kb,
        knowledge,
        graph,
        metrics=metrics,
        health=health,
    )
