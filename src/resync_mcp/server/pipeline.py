"""The ordered chain around every tool call.

Each stage is a small object with one method ``(call, next)``. The list is data, built
once in ``app.py``: error boundary -> log -> authorize -> audit -> freshness -> tool.
Each HWA request the tool makes then runs through the upstream chain (tws/upstream.py):
cache -> breaker -> retry -> bulkhead -> HTTP.
"""

from __future__ import annotations

import contextvars
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import structlog
from pydantic import BaseModel

from resync_mcp import logs
from resync_mcp.audit.log import AuditLog, audit_scope_var
from resync_mcp.clientinfo import client_var
from resync_mcp.clock import Clock, iso
from resync_mcp.errors import NotAllowed, OutcomeUnknown, ResyncError
from resync_mcp.notices import notify
from resync_mcp.security.policy import (
    RULES,
    Decision,
    Deny,
    Policy,
    Principal,
    decide,
    default_confirm,
    principal_var,
)
from resync_mcp.security.ratelimit import RateLimits
from resync_mcp.tws.upstream import Freshness, freshness_var, scope_var

if TYPE_CHECKING:
    from resync_mcp.metrics import Metrics

log = structlog.get_logger("resync_mcp.pipeline")
# Who is calling and what the policy decided, for the tool body (set by AuthorizeStage).
authz_var: contextvars.ContextVar[tuple[Principal, Decision] | None] = contextvars.ContextVar(
    "resync_authz", default=None
)


@dataclass(frozen=True, slots=True)
class ToolCall:
    tool: str
    arguments: dict[str, Any]
    engine: str | None
    # 48 random bits: from the process's own generator (reseeded from the OS at start and in a
    # forked child), not a system call per call; an id to find a call by, not a secret.
    correlation_id: str = field(default_factory=lambda: f"{random.getrandbits(48):012x}")
    body: Callable[[], Awaitable[Any]] | None = field(default=None, repr=False, compare=False)  # the tool's work


Next = Callable[[ToolCall], Awaitable[Any]]


class Stage(Protocol):
    async def __call__(self, call: ToolCall, next: Next) -> Any: ...


class ToolFailure(Exception):
    """What a tool call ends with when it fails: a sentence safe to show the client."""

    def __init__(self, message: str, *, correlation_id: str) -> None:
        super().__init__(message)
        self.correlation_id = correlation_id


class ErrorBoundary:
    """Outermost stage: known errors become their sentence; anything else a generic one.

    The client never sees a traceback or an exception's text it did not ask for; the
    detail goes to the log under the correlation id the client is given.
    """

    async def __call__(self, call: ToolCall, next: Next) -> Any:
        try:
            return await next(call)
        except ResyncError as exc:
            raise ToolFailure(exc.for_model(), correlation_id=call.correlation_id) from None
        except Exception:
            log.exception("tool_crashed", tool=call.tool, correlation_id=call.correlation_id)
            rule = RULES.get(call.tool)
            effect = (
                "nothing was changed"
                if rule is None or not rule.writes
                else "the action may or may not have reached HWA: read the object's state before anything else"
            )
            raise ToolFailure(
                f"Internal error in {call.tool}; {effect}. Report correlation id {call.correlation_id}.",
                correlation_id=call.correlation_id,
            ) from None


class LogStage:
    """One structured log line per call: tool, engine, outcome, latency (arguments stay out);
    and the call's duration in the metrics."""

    def __init__(self, clock: Clock, metrics: Metrics | None = None) -> None:
        self._clock = clock
        self._metrics = metrics

    async def __call__(self, call: ToolCall, next: Next) -> Any:
        start = self._clock.monotonic()
        outcome, error_type = "error", ""
        try:
            result = await next(call)
            outcome = "ok"
            return result
        except BaseException as exc:
            error_type = type(exc).__name__
            raise
        finally:
            took = self._clock.monotonic() - start
            logs.tool_call(
                log,
                tool=call.tool,
                engine=call.engine,
                outcome=outcome,
                ms=round(took * 1000, 2),
                correlation_id=call.correlation_id,
            )
            if self._metrics is not None:
                client = client_var.get()
                transport = "tcp" if client is not None and client.transport == "http" else "pipe"
                self._metrics.tool_call(call.tool, outcome, error_type, transport, took)


class AuthorizeStage:
    """Applies the policy decision (security/policy.py) to every call: a denied call ends here;
    an allowed one runs with the principal's scope (part of every cache key) and the decision
    (which tells a control tool whether a person must confirm)."""

    def __init__(
        self, principal: Principal | None = None, policy: Policy | None = None, limits: RateLimits | None = None
    ) -> None:
        self.principal = principal or Principal("local-operator", frozenset({"viewer"}))
        self.policy = policy or Policy(confirm=default_confirm())
        self.limits = limits

    def current(self) -> Principal:
        """The caller: the request's verified identity over HTTP with auth, else the server's."""
        return principal_var.get() or self.principal

    async def __call__(self, call: ToolCall, next: Next) -> Any:
        principal = self.current()
        decision = decide(principal, call.tool, call.arguments, self.policy)
        if isinstance(decision, Deny):
            hint = (
                "An operator enables control tools in the [security] settings."
                if principal.via == "local"
                else "Your token or its roles do not grant it; whoami shows what they grant."
            )
            raise NotAllowed(decision.reason, hint=hint)
        rule = RULES.get(call.tool)
        if self.limits is not None and rule is not None and principal.via != "local":
            await self.limits.check(principal, rule.toolset)  # callers with a token; the machine's own user is not
        scope, authz, who = (
            scope_var.set(principal.scope),
            authz_var.set((principal, decision)),
            principal_var.set(principal),
        )
        try:
            return await next(call)
        finally:
            principal_var.reset(who)
            authz_var.reset(authz)
            scope_var.reset(scope)


class AuditStage:
    """Records every tool call in the audit chain: allowed, denied, failed or served from cache.

    It sits outside AuthorizeStage so that denials are recorded too. Control actions write a
    durable intent through the scope it opens (before the HWA call); this stage writes the
    outcome after. Without an audit log (``audit.enabled = false``) it passes calls through.
    """

    def __init__(self, audit: AuditLog | None = None, clock: Clock | None = None) -> None:
        self.audit = audit
        self._clock = clock
        self._acts: dict[type[Any], bool] = {}  # whether a result type may carry an action's outcome

    async def __call__(self, call: ToolCall, next: Next) -> Any:
        if self.audit is None:
            return await next(call)
        scope = self.audit.scope(call.tool, call.engine, call.arguments, call.correlation_id)
        collector = Freshness()
        scoped, collecting = audit_scope_var.set(scope), freshness_var.set(collector)
        started = self._clock.monotonic() if self._clock else 0.0
        details: dict[str, Any] = {"outcome": "error"}
        try:
            result = await next(call)
            acts = self._acts.get(type(result))  # a model without the field: no lookup miss
            if acts is None:
                fields = getattr(type(result), "model_fields", None)
                acts = self._acts[type(result)] = fields is None or "outcome" in fields
            action = getattr(result, "outcome", None) if acts else None
            details["outcome"] = "unknown" if action == "unknown" else "ok"
            if action is not None:
                details["action_outcome"] = action
            return result
        except NotAllowed as exc:
            details.update(outcome="denied", error=exc.message)
            raise
        except OutcomeUnknown as exc:
            details.update(outcome="unknown", error=exc.message)
            raise
        except ResyncError as exc:
            details["error"] = exc.message
            raise
        except Exception as exc:
            details["error"] = type(exc).__name__
            raise
        finally:
            freshness_var.reset(collecting)
            audit_scope_var.reset(scoped)
            details["hwa_requests"] = collector.sent
            details["served_from_cache"] = collector.cached
            if self._clock:
                details["latency_ms"] = round((self._clock.monotonic() - started) * 1000, 2)
            self.audit.outcome(scope, details, durable=bool(scope.intents))


class FreshnessStage:
    """Makes a result's ``as_of`` the time of the oldest data it was built from, and marks
    it ``stale`` when any of that data was served stale from the cache."""

    def __init__(self) -> None:
        self._dated: dict[type[Any], bool] = {}  # whether a result type has as_of

    async def __call__(self, call: ToolCall, next: Next) -> Any:
        outer = freshness_var.get()  # the audit stage's, when there is one: it counts the same reads
        collector = outer or Freshness()
        token = freshness_var.set(collector) if outer is None else None
        try:
            result = await next(call)
        finally:
            if token is not None:
                freshness_var.reset(token)
        if collector.oldest is None or not isinstance(result, BaseModel):
            return result
        dated = self._dated.get(type(result))
        if dated is None:
            dated = self._dated[type(result)] = "as_of" in type(result).model_fields
        if not dated:
            return result
        as_of, stale = min(getattr(result, "as_of"), collector.oldest), collector.stale  # noqa: B009
        result = result.model_copy(update={"as_of": as_of, "stale": stale})
        if stale:
            await notify(
                "warning",
                "stale_data",
                f"{call.tool} answered from cached data as of {iso(as_of)}: the engine did not answer in time.",
                engine=call.engine,
                tool=call.tool,
            )
        return result


class Pipeline:
    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = list(stages)
        self.in_flight = 0  # tool calls running now: a graceful shutdown waits for them
        self._idle: anyio.Event | None = None
        self._chain: Next = _body
        self._chained: list[Stage] = []  # the stages self._chain was composed of

    async def run(self, call: ToolCall, handler: Next | None = None) -> Any:
        """Run the call's body (or ``handler``) inside every stage, first stage outermost."""
        if handler is not None:
            call = replace(call, body=partial(handler, call))
        if self._chained != self.stages:  # composed once, again only if the list was changed
            self._chain, self._chained = _body, list(self.stages)
            for stage in reversed(self._chained):
                self._chain = partial(stage, next=self._chain)  # no frame of our own per stage
        self.in_flight += 1
        try:
            return await self._chain(call)
        finally:
            self.in_flight -= 1
            if not self.in_flight and self._idle is not None:
                self._idle.set()

    async def idle(self) -> None:
        while self.in_flight:
            self._idle = anyio.Event()
            await self._idle.wait()


def _body(call: ToolCall) -> Awaitable[Any]:
    """The innermost step: the body's own awaitable (no coroutine of ours around it)."""
    assert call.body is not None, "a ToolCall run through the pipeline needs its body"
    return call.body()
