"""What a fleet's operator scrapes at ``GET /metrics`` (Prometheus text).

Tool-call durations follow the OpenTelemetry MCP semantic conventions where they name one
(``mcp.server.operation.duration`` with ``mcp.method.name``, ``gen_ai.tool.name``,
``error.type`` and ``network.transport``, dots as underscores); the rest are ``resync_*``.
Two histograms are observed as calls happen; everything else is read from the counters the
components already keep (cache, breakers, bulkheads, retries, rate limits, audit) when scraped,
so the hot path pays nothing for them. One registry per app: two apps in one process (tests)
never share figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from resync_mcp.audit.log import AuditLog
    from resync_mcp.resilience.stages import BreakerStage, BulkheadStage, RetryStage
    from resync_mcp.security.ratelimit import RateLimits

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
disable_created_metrics()  # type: ignore[no-untyped-call]  # the *_created series only double what a scraper already knows
_CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


@dataclass
class Sources:
    """The live objects whose counters are read at scrape time (set once the app is wired)."""

    engines: Callable[[], list[str]]
    breaker: BreakerStage
    bulkhead: BulkheadStage
    retry: RetryStage
    cache_stats: Callable[[], dict[str, dict[str, int]]]
    limits: RateLimits | None
    audit: AuditLog | None
    in_flight: Callable[[], int]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.calls = Histogram(
            "mcp_server_operation_duration_seconds",
            "MCP tool calls, by tool, outcome and transport",
            ["mcp_method_name", "gen_ai_tool_name", "outcome", "error_type", "network_transport"],
            buckets=_CALL_BUCKETS,
            registry=self.registry,
        )
        self.upstream = Histogram(
            "resync_upstream_request_duration_seconds",
            "HTTP requests to HWA engines, by engine, operation (data class) and method",
            ["engine", "operation", "method"],
            buckets=_CALL_BUCKETS,
            registry=self.registry,
        )
        self.sources: Sources | None = None
        self.registry.register(_Live(self))
        self._children: dict[tuple[object, ...], Any] = {}  # labels() takes a lock and builds keys: once per set

    def _child(self, metric: Histogram, labels: tuple[str, ...]) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def tool_call(self, tool: str, outcome: str, error_type: str, transport: str, seconds: float) -> None:
        self._child(self.calls, ("tools/call", tool, outcome, error_type, transport)).observe(seconds)

    def upstream_request(self, engine: str, operation: str, method: str, seconds: float) -> None:
        self._child(self.upstream, (engine, operation, method)).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _Live(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        return []  # read at scrape time: nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        s = self.metrics.sources
        if s is None:
            return
        breaker = GaugeMetricFamily(
            "resync_breaker_state", "Circuit breaker per engine: 0 closed, 1 half-open, 2 open", labels=["engine"]
        )
        in_use = GaugeMetricFamily("resync_upstream_in_flight", "Engine requests running now", labels=["engine"])
        for engine in s.engines():
            breaker.add_metric([engine], BREAKER_STATES.get(s.breaker.state(engine).mode, 2))
            in_use.add_metric([engine], s.bulkhead.in_flight.get(engine, 0))
        yield breaker
        yield in_use
        yield GaugeMetricFamily("resync_tool_calls_in_flight", "Tool calls running now", value=s.in_flight())
        cache = CounterMetricFamily(
            "resync_cache_events",
            "Cache lookups by data class and result (hit, miss, stale...)",
            labels=["data_class", "result"],
        )
        for klass, counts in sorted(s.cache_stats().items()):
            for result, n in sorted(counts.items()):
                cache.add_metric([klass, result], n)
        yield cache
        yield _counter("resync_breaker_rejections", "Engine requests refused by an open breaker", s.breaker.rejected)
        yield _counter("resync_bulkhead_rejections", "Engine requests refused by a full bulkhead", s.bulkhead.rejected)
        yield _counter("resync_upstream_retries", "Engine reads retried", s.retry.retries)
        limited = s.limits.rejected if s.limits is not None else 0
        yield _counter("resync_rate_limit_rejections", "Tool calls refused by a rate limit", limited)
        if s.audit is not None:
            st = s.audit.store.stats
            yield _counter("resync_audit_appends", "Audit records appended", st.appended)
            yield _counter("resync_audit_failures", "Audit writes that failed", st.failures)
            yield _counter("resync_audit_dropped", "Audit records dropped", st.dropped)
            yield _counter("resync_audit_unrecorded_calls", "Tool calls the audit could not record", s.audit.unrecorded)


def _counter(name: str, doc: str, value: int) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)
