"""The seam around each HWA request: an ordered chain of ``(call, next)`` stages.

A tool call makes several HWA requests of different data classes (``plan_summary``
makes seven), so caching, breaking, retrying and bulkheading happen per request here,
while authorization and audit wrap the whole tool call (server/pipeline.py). Both chains
are assembled in one place, app.py.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class UpstreamCall:
    engine: str
    path: str  # relative to the API base, e.g. /plan/job/{id}
    params: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    what: str  # for error messages: "reading job X"
    kind: str  # data class: job, joblog, jobstream, workstation, resource, prompt, query, count, engine
    object_id: str | None = None
    scope: str = "local"  # the caller's authorization scope; part of every cache key
    idempotent: bool = True  # reads only: never retried otherwise
    method: str = "GET"
    body: bytes | None = None  # JSON, for writes
    fresh: bool = False  # read the engine, not the cache (preconditions before a write)
    remember: bool = True  # a fresh answer is stored; bulk reads (the graph's pages) are not
    # Monotonic time by which the whole request (every attempt, wait and queue) must be done:
    # set once by the client from total_timeout_s; each stage spends from what is left.
    deadline: float | None = None
    # A write's credential when it acts in the caller's own name (tws/acting.py): an httpx.Auth,
    # never shown, compared or cached.
    acting: Any = field(default=None, compare=False, repr=False)

    def remaining(self, now: float) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - now)


@dataclass(frozen=True)
class Fetched:
    status: int
    content: bytes
    content_type: str
    as_of: datetime  # when the engine produced this answer
    stale: bool = False
    source: str = "upstream"  # upstream, l1, l2


Fetch = Callable[[UpstreamCall], Awaitable[Fetched]]


@runtime_checkable
class HitProbe(Protocol):
    """An outermost stage that can answer a read from memory before the request is built."""

    def fresh_hit(
        self, engine: str, kind: str, scope: str, path: str, params: tuple[Any, ...], headers: tuple[Any, ...]
    ) -> Fetched | None: ...


class UpstreamStage(Protocol):
    async def __call__(self, call: UpstreamCall, next: Fetch) -> Fetched: ...


def chain(stages: Sequence[UpstreamStage], terminal: Fetch) -> Fetch:
    """Compose stages around ``terminal``; the first stage is outermost."""
    fetch = terminal
    for stage in reversed(stages):
        fetch = partial(stage, next=fetch)  # no frame of our own per stage
    return fetch


# ------------------------------------------------------------- per-tool-call context
scope_var: contextvars.ContextVar[str] = contextvars.ContextVar("resync_scope", default="local")


@dataclass(slots=True)
class Freshness:
    """What one tool call read: the oldest answer's time and whether any was stale."""

    oldest: datetime | None = None
    stale: bool = False
    cached: int = 0  # answers served from the cache (L1 or L2)
    sent: int = 0  # HTTP requests that really left for the engine (retries and writes included)

    def record(self, fetched: Fetched) -> None:
        if self.oldest is None or fetched.as_of < self.oldest:
            self.oldest = fetched.as_of
        self.stale |= fetched.stale
        if fetched.source != "upstream":
            self.cached += 1


freshness_var: contextvars.ContextVar[Freshness | None] = contextvars.ContextVar("resync_freshness", default=None)
