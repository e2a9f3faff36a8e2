"""Pure cache decisions: the key of a request, the TTL class of an answer, its tags."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from resync_mcp.tws.upstream import UpstreamCall

_LAST_STATUS = re.compile(rb'"lastRunCompositeStatus"\s*:\s*\{[^}]*?"status"\s*:\s*"(\w+)"')
_STREAM_ID = re.compile(rb'"jobStreamId"\s*:\s*"([\w-]{36})"')
_ANY_ID = re.compile(rb'"id"\s*:\s*"([\w-]{36})"')
FINISHED = frozenset({b"SUCC", b"ABEND", b"FAIL", b"CANCL", b"SUPPR"})


@dataclass(frozen=True)
class Ttls:
    running_s: float = 5.0  # a job that is not finished changes state any second
    finished_s: float = 300.0  # a finished job changes only through an action (which invalidates)
    log_running_s: float = 5.0
    log_finished_s: float = 3600.0  # a finished run's log never changes
    listing_s: float = 10.0  # queries and counts
    object_s: float = 30.0  # job streams, workstations, resources, prompts
    engine_s: float = 600.0  # engine info: definitions-like
    not_found_s: float = 10.0  # negative caching
    swr_s: float = 10.0  # after expiry, serve stale and refresh in the background for this long
    max_stale_s: float = 300.0  # never serve data older than its expiry plus this


def cache_key(call: UpstreamCall) -> str:
    """Engine, the caller's scope and the exact request: one user never gets another scope's data."""
    return key_of(call.engine, call.kind, call.scope, call.path, call.params, call.headers)


@functools.lru_cache(maxsize=4096)  # every cached read works its key out: the hot ones once
def key_of(engine: str, kind: str, scope: str, path: str, params: tuple[Any, ...], headers: tuple[Any, ...]) -> str:
    """``cache_key`` of a request with these fields (the client asks before building one)."""
    raw = "\x1f".join((engine, scope, path, repr(params), repr(headers)))
    return f"{engine}:{kind}:{hashlib.sha256(raw.encode()).hexdigest()[:32]}"


def data_class(call: UpstreamCall, content: bytes) -> str:
    """The TTL class of an answer, from the request and, for jobs and logs, the content."""
    if call.kind == "job":
        m = _LAST_STATUS.search(content)
        return "job_finished" if m and m.group(1) in FINISHED else "job_running"
    if call.kind == "joblog":
        return "log_finished" if b"Exit Status" in content[-2000:] else "log_running"
    if call.kind in ("query", "count"):
        return "listing"
    if call.kind == "engine":
        return "engine"
    return "object"


def ttl(klass: str, t: Ttls) -> float:
    return {
        "job_finished": t.finished_s,
        "job_running": t.running_s,
        "log_finished": t.log_finished_s,
        "log_running": t.log_running_s,
        "listing": t.listing_s,
        "engine": t.engine_s,
        "not_found": t.not_found_s,
    }.get(klass, t.object_s)


def tags(call: UpstreamCall, content: bytes) -> set[str]:
    """What invalidation can name to drop this entry: its object, its job stream, or any list."""
    out: set[str] = set()
    if call.kind in ("query", "count"):
        out.add(f"list:{call.engine}")
    if call.object_id:
        out.add(f"obj:{call.engine}:{call.object_id}")
    if call.kind == "job" and (m := _STREAM_ID.search(content)):
        out.add(f"obj:{call.engine}:{m.group(1).decode()}")
    return out


def ids_in(content: bytes) -> set[str]:
    """Object ids present in a listing, so a negative entry for one of them can be dropped."""
    return {m.decode() for m in _ANY_ID.findall(content)}
