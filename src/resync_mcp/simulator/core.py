"""The simulated engine itself: a plan, a clock, credentials, fault modes and the options
where the real engine's behaviour is not known (hwa-rest-api.md §9), plus the in-process
transport. Routes live in reads.py, model.py and writes.py; app.py assembles them."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, cast

import httpx
from starlette.requests import Request
from starlette.responses import Response

from resync_mcp.clock import Clock
from resync_mcp.simulator.actions import Actions
from resync_mcp.simulator.faults import Faults
from resync_mcp.simulator.plan import SimPlan, generate_plan

T = TypeVar("T")

if TYPE_CHECKING:
    from starlette.applications import Starlette

# Which OQL filter fields the engine accepts: "paths" = any JSON path of the object type's V2
# schema (an inference from the lab: `key.name`, not a path of JobInPlanV2, is refused);
# "confirmed" = only the fields seen working on a real engine or in the spec's examples.
OqlFields = Literal["paths", "confirmed"]
# The state an ad hoc job starts in: HOLD in the lab that used REST, READY in another.
AdhocState = Literal["HOLD", "READY"]


class FaultPolicy(Protocol):
    """Decides per request whether the engine misbehaves (simulator/faults.py)."""

    received: int  # API requests seen

    async def before(self, request: Request) -> Response | None: ...

    async def after(self, request: Request, response: Response) -> Response: ...

    def wrap(self, response: Response) -> Response: ...


@dataclass
class Credentials:
    username: str | None = None
    password: str | None = None
    token: str | None = None

    def accepts(self, header: str | None) -> bool:
        if self.username is None and self.token is None:
            return header is not None and header.split(" ", 1)[0] in ("Basic", "Bearer")
        if header is None:
            return False
        scheme, _, value = header.partition(" ")
        if scheme == "Bearer" and self.token is not None:
            return secrets.compare_digest(value, self.token)
        if scheme == "Basic" and self.username is not None:
            expected = base64.b64encode(f"{self.username}:{self.password or ''}".encode()).decode()
            return secrets.compare_digest(value, expected)
        return False


class _Kept:
    """Values kept while a version number stays the same, the least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self.size, self.version = size, -1
        self.values: OrderedDict[Hashable, object] = OrderedDict()

    def get(self, version: int, key: Hashable, compute: Callable[[], T]) -> T:
        if version != self.version:
            self.values.clear()
            self.version = version
        if key in self.values:
            self.values.move_to_end(key)
            return cast(T, self.values[key])
        value = compute()
        self.values[key] = value
        while len(self.values) > self.size:
            self.values.popitem(last=False)
        return value


class Simulator:
    """A simulated engine: a plan, a clock and an offset that advances plan time."""

    def __init__(
        self,
        plan: SimPlan,
        clock: Clock,
        *,
        credentials: Credentials | None = None,
        faults: FaultPolicy | None = None,
        tick_seconds: int = 30,
        oql_fields: OqlFields = "paths",
        adhoc_state: AdhocState = "HOLD",
    ) -> None:
        self.plan = plan
        self.clock = clock
        self.credentials = credentials or Credentials()
        self.faults: FaultPolicy = faults or Faults()
        self.tick_seconds = tick_seconds
        self._memo, self._shaped = _Kept(64), _Kept(64)
        self.oql_fields: OqlFields = oql_fields
        self.adhoc_state: AdhocState = adhoc_state
        self._offset = timedelta()
        self.actions = Actions(plan, plan.seed + 1)
        self.writes: list[dict[str, Any]] = []  # every write request received, for tests and /_sim/writes
        # The distinct Authorization headers received, as sha256 hex: which credentials reached the
        # engine (a client's token must never be one of them), without keeping any of them.
        self.authorizations: set[str] = set()

    @classmethod
    def create(cls, seed: int, n_jobs: int, clock: Clock, *, hours_into_plan: float = 10.0, **kw: Any) -> Simulator:
        """A plan whose first job stream arrived ``hours_into_plan`` hours before clock time."""
        start = (clock.now() - timedelta(hours=hours_into_plan)).replace(minute=0, second=0, microsecond=0)
        return cls(generate_plan(seed, n_jobs, start), clock, **kw)

    def now(self) -> datetime:
        """Plan time, quantized to the tick so a busy server does not re-evaluate every request."""
        t = self.clock.now() + self._offset
        return t - timedelta(seconds=t.second % self.tick_seconds, microseconds=t.microsecond)

    def advance(self, seconds: float) -> None:
        self._offset += timedelta(seconds=seconds)

    def shaped(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, kept until the plan's shape changes (an action, a submit), not with time."""
        return self._shaped.get(self.plan.shape, key, compute)

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, kept until the plan changes (an evaluation at a new tick, an action):
        a query's selection is reused for its next pages, an index for the next filters."""
        return self._memo.get(self.plan.version, key, compute)

    async def keep_current(self, first_delay_s: float = 1.0) -> None:
        """Keep the plan's state current on its own, as an engine does: evaluated at each new
        tick, so that a request rarely pays for it. For a simulator on its own loop
        (``transport(threaded=True)``); the first pass waits ``first_delay_s``, clear of the
        server's own start."""
        await asyncio.sleep(first_delay_s)
        while True:
            self.state()
            t = self.clock.now() + self._offset  # sleep to just past the next tick's start
            await asyncio.sleep(self.tick_seconds - t.second % self.tick_seconds - t.microsecond / 1e6 + 0.01)

    def state(self) -> datetime:
        now = self.now()
        self.plan.evaluate(now)
        return now

    def app(self) -> Starlette:
        from resync_mcp.simulator.app import build_app  # the routes import this module

        return build_app(self)

    def transport(self, *, threaded: bool = False) -> httpx.AsyncBaseTransport:
        """An httpx transport that calls the simulator in-process, no socket; ``threaded``: on
        its own event loop in a worker thread, off the caller's (simulator/threaded.py), where it
        also keeps its state current between requests."""
        if threaded:
            from resync_mcp.simulator.threaded import ThreadedTransport

            return ThreadedTransport(self.app(), background=self.keep_current)
        return httpx.ASGITransport(app=self.app())
