"""The whole-plan graph of each engine, kept in the background: built on first need (or at
start, by setting) and refreshed when older than ``max_age_s``, never on a tool call's path.

A question that needs the whole plan asks ``current()``: it gets the graph as last read (maybe
older than ``max_age_s`` while a refresh runs, or none while the first build runs) and the
build's progress, and answers at once with what it has. Plan-wide results that cost a pass over
the plan (deadlines at risk) are computed once per read, in a worker thread, before the graph is
published. One task per engine at a time; a failed read is logged and retried on the next need.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import anyio
import structlog

from resync_mcp.clock import Clock
from resync_mcp.collector import no_full_collections
from resync_mcp.graph import analysis as a
from resync_mcp.graph import builder, refresh
from resync_mcp.graph.model import PlanGraph
from resync_mcp.graph.store import GraphStore
from resync_mcp.tws.client import HwaClient

log = structlog.get_logger("resync_mcp.graph")
SKEW = timedelta(minutes=2)  # an engine's clock may lag ours: look back that much further


@dataclass
class State:
    graph: PlanGraph | None = None
    read_at: float = float("-inf")  # monotonic: when ``graph`` was last brought up to date
    risks: list[a.CriticalPath] = field(default_factory=list)  # as of graph.as_of
    task: asyncio.Task[None] | None = None
    started: float = 0.0  # monotonic: when the running task began
    done: int = 0  # jobs read by the running build
    total: int | None = None
    error: str | None = None  # why the last read failed
    last: refresh.RefreshReport | None = None
    full_at: float = float("-inf")  # monotonic: the last read that compared every job
    dirty: set[str] = field(default_factory=set)  # what our writes touched since the last read


class WholePlan:
    def __init__(self, clock: Clock, store: GraphStore, max_age_s: float, full_check_s: float = 600.0) -> None:
        self.clock, self.store, self.max_age_s, self.full_check_s = clock, store, max_age_s, full_check_s
        self.states: dict[str, State] = {}

    def state(self, engine: str) -> State:
        s = self.states.get(engine)
        if s is None:  # not setdefault: that would build a throwaway State on every question
            s = self.states[engine] = State()
        return s

    def fresh(self, engine: str) -> PlanGraph | None:
        s = self.states.get(engine)
        if s is None or s.graph is None or self.clock.monotonic() - s.read_at >= self.max_age_s:
            return None
        return s.graph

    def current(self, client: HwaClient) -> State:
        """The state as it is now; a build or refresh is started when the graph is missing or old."""
        s = self.state(client.engine)
        if s.task is None and (s.graph is None or self.clock.monotonic() - s.read_at >= self.max_age_s):
            s.started, s.done, s.total = self.clock.monotonic(), 0, None
            # A fresh context: the task outlives the call that started it, and must not report
            # progress or identity into it.
            s.task = asyncio.get_running_loop().create_task(self._read(client, s), context=contextvars.Context())
        return s

    async def wait(self, client: HwaClient) -> State:
        """The graph, up to date: for callers that must have it (tests, the builder's users)."""
        s = self.current(client)
        while s.task is not None:
            await asyncio.shield(s.task)
        if s.graph is None:
            raise RuntimeError(s.error or "the plan graph could not be read")
        return s

    def invalidate(self, engine: str, touched: Iterable[str] = ()) -> None:
        """After a write: the next question refreshes, re-reading what the write ``touched``
        (job or job stream ids) besides what the engine says moved."""
        s = self.states.get(engine)
        if s is not None:
            s.read_at = float("-inf")
            s.dirty.update(touched)

    async def _read(self, client: HwaClient, s: State) -> None:
        try:
            now, began = self.clock.now(), self.clock.monotonic()
            with no_full_collections():
                g = await self._fetch(client, s, now, began)
                risks = await anyio.to_thread.run_sync(a.at_risk, g, now)
            await self.store.replace(client.engine, g)
            gc.freeze()  # long-lived: keep the collector's full passes short (see app.py)
            s.graph, s.risks, s.read_at, s.error = g, risks, self.clock.monotonic(), None
            log.info("plan_graph_read", engine=client.engine, jobs=s.graph.jobs(), refresh=s.last is not None)
        except Exception as e:  # reported by the next question, retried on the next need
            s.error = str(e) or type(e).__name__
            log.warning("plan_graph_read_failed", engine=client.engine, error=s.error)
        finally:
            s.task = None

    async def _fetch(self, client: HwaClient, s: State, now: datetime, began: float) -> PlanGraph:
        """A first build, or a refresh in place, on this loop: a reader may find it part-way, with
        each job either as it was or as re-read (a job is replaced whole, never half)."""
        if s.graph is None:
            g = await builder.build(client, now, on_page=lambda done, total: _count(s, done, total))
            s.last, s.full_at = None, began
            return g
        g = s.graph
        full = began - s.full_at >= self.full_check_s or g.as_of is None
        since = None if full or g.as_of is None else g.as_of - SKEW
        dirty, s.dirty = s.dirty, set()
        try:
            s.last = await refresh.refresh(client, g, now, since=since, dirty=dirty)
        except BaseException:
            s.dirty |= dirty  # still to re-read next time
            raise
        if s.last.full:
            s.full_at = began
        return g

    async def close(self) -> None:
        tasks = [s.task for s in self.states.values() if s.task is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # cancelled: nothing to keep


def _count(s: State, done: int, total: int | None) -> None:
    s.done, s.total = done, total
