"""Fault modes for the simulator: what a struggling engine does to its clients.

Configured at start (``Faults(FaultConfig(...))``) and switched at run time through
``PUT /_sim/faults`` (JSON body with the FaultConfig fields) or ``DELETE /_sim/faults``.
Random choices come from a seeded generator, so a run replays exactly.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, fields
from typing import Literal

import anyio
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class FaultConfig:
    latency_ms: float = 0.0  # added to every request
    error_rate: float = 0.0  # fraction of requests answered with error_status
    burst: int = 0  # the next N requests are answered with error_status, then normal service
    error_status: int = 503  # 5xx or 429
    retry_after_s: float | None = None  # sent as Retry-After with error answers
    reset_rate: float = 0.0  # fraction of requests whose connection is reset
    hang: bool = False  # requests never answer
    trickle_bytes_per_s: float = 0.0  # answers are sent slowly, in small chunks
    auth_expired: bool = False  # every request is answered 401, as when a token expires
    # The worst case for exactly-once: the engine acts, then the answer is lost ("reset": the
    # connection drops; "hang": it never comes). The state has changed; the client cannot know.
    lose_answer: Literal["", "reset", "hang"] = ""
    writes_only: bool = False  # faults hit only write requests (PUT/POST); reads are served normally
    seed: int = 0


def _reset(request: Request) -> None:
    """Over real HTTP, abort the TCP connection (simulator/serve.py); in process, the exception
    raised next is the reset."""
    reset = request.scope.get("extensions", {}).get("resync.reset")
    if reset is not None:
        reset()


class Faults:
    """A FaultPolicy: decides, per request, whether the engine misbehaves and how."""

    def __init__(self, config: FaultConfig | None = None, sleep: Sleep | None = None) -> None:
        self.config = config or FaultConfig()
        self._sleep = sleep or anyio.sleep
        self._rng = random.Random(self.config.seed)
        self.injected = 0
        self.received = 0  # API requests that reached the simulator (tests wait on this, not on time)

    def configure(self, **changes: object) -> FaultConfig:
        """Replace the configuration; unknown fields or wrong types raise ValueError."""
        known = {f.name for f in fields(FaultConfig)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        try:
            self.config = TypeAdapter(FaultConfig).validate_python({**asdict(FaultConfig()), **changes})
        except ValidationError as exc:  # one short line per bad field, not pydantic's essay
            raise ValueError("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
        self._rng = random.Random(self.config.seed)
        return self.config

    async def before(self, request: Request) -> Response | None:
        self.received += 1
        c = self.config
        if c.writes_only and request.method == "GET":
            return None
        if c.latency_ms:
            await self._sleep(c.latency_ms / 1000)
        if c.hang:
            self.injected += 1
            await anyio.sleep_forever()
        if c.auth_expired:
            self.injected += 1
            return JSONResponse({"status": 401, "message": "Not Authorized", "messages": ["Not Authorized"]}, 401)
        if c.reset_rate and self._rng.random() < c.reset_rate:
            self.injected += 1
            _reset(request)
            raise ConnectionResetError("simulated connection reset")
        if c.burst > 0 or (c.error_rate and self._rng.random() < c.error_rate):
            if c.burst > 0:
                c.burst -= 1
            self.injected += 1
            headers = {"Retry-After": f"{c.retry_after_s:g}"} if c.retry_after_s is not None else {}
            body = {"status": c.error_status, "message": "Service unavailable (simulated)", "messages": []}
            return JSONResponse(body, c.error_status, headers=headers)
        return None

    async def after(self, request: Request, response: Response) -> Response:
        """The engine has acted (a 2xx answer): lose that answer, when configured."""
        c = self.config
        if not c.lose_answer or response.status_code >= 400 or (c.writes_only and request.method == "GET"):
            return response
        self.injected += 1
        if c.lose_answer == "hang":
            await anyio.sleep_forever()
        _reset(request)
        raise ConnectionResetError("simulated connection reset after the engine acted")

    def wrap(self, response: Response) -> Response:
        """Trickle a finished response out slowly, when configured."""
        rate = self.config.trickle_bytes_per_s
        body = getattr(response, "body", None)
        if not rate or not isinstance(body, bytes):
            return response
        sleep = self._sleep

        async def chunks() -> AsyncIterator[bytes]:
            step = 256
            for i in range(0, len(body), step):
                await sleep(step / rate)
                yield body[i : i + step]

        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return StreamingResponse(chunks(), status_code=response.status_code, headers=headers)
