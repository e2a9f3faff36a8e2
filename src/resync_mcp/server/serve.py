"""Running the server on its transport until it is told to stop, then cleaning up.

SIGTERM (a service manager, `docker stop`, Kubernetes) and SIGINT (Ctrl-C) end every transport
the same way: stop accepting, let calls in flight finish within ``server.shutdown_grace_s``,
then ``app.aclose()``: the audit's final checkpoint, Redis and the engines' HTTP clients.

HTTP and SSE run uvicorn directly rather than through the SDK's ``run_*_async``: uvicorn
re-raises the signal it caught once it has stopped, which with the default handler would kill
the process before any clean-up ran. A no-op handler installed first absorbs that re-raise.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import anyio
import structlog

from resync_mcp.config import ServerSettings
from resync_mcp.server.events import MemoryEventStore

if TYPE_CHECKING:
    from mcp.server.transport_security import TransportSecuritySettings

    from resync_mcp.app import App

log = structlog.get_logger("resync_mcp.serve")
SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def _absorb_reraised_signals() -> Iterator[None]:
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _drain_first_server(base: type) -> type:
    """Legacy SSE answers calls on the client's long-lived GET stream, which sse-starlette closes
    the moment uvicorn is told to exit: a call in flight would lose its answer. So on a signal,
    calls in flight get the grace period first, then uvicorn stops (a second signal: at once)."""

    class DrainFirst(base):  # type: ignore[misc]
        def __init__(self, config: object, app: App, grace_s: float) -> None:
            super().__init__(config)
            self._app, self._grace_s, self._draining = app, grace_s, False

        def handle_exit(self, sig: int, frame: object) -> None:
            if self._draining:
                super().handle_exit(sig, frame)
                return
            self._draining = True
            self._captured_signals.append(sig)  # re-raised after stopping, like uvicorn's own
            log.info("shutdown", signal=signal.Signals(sig).name, grace_s=self._grace_s)

            async def drain() -> None:
                with anyio.move_on_after(self._grace_s):
                    await self._app.idle()
                self.should_exit = True

            asyncio.get_running_loop().create_task(drain())

    return DrainFirst


async def _uvicorn(app: App, srv: ServerSettings, security: TransportSecuritySettings | None) -> None:
    import uvicorn
    from starlette.applications import Starlette

    starlette: Starlette
    if srv.transport == "http":
        starlette = app.server.streamable_http_app(
            streamable_http_path=srv.path,
            stateless_http=srv.stateless,
            event_store=None if srv.stateless else MemoryEventStore(srv.sse_replay_events),
            retry_interval=None if srv.stateless else srv.sse_retry_ms,
            max_sessions=srv.max_sessions,
            session_idle_timeout=srv.session_idle_s,
            transport_security=security,
            host=srv.host,
        )
    else:
        starlette = app.server.sse_app(transport_security=security, host=srv.host)
    from resync_mcp.security.tokens import verifier_for
    from resync_mcp.server.edge import Edge
    from resync_mcp.server.hardening import guarded_h11

    if srv.cors_origins:  # only where configured: a browser on another origin may then call
        from starlette.middleware.cors import CORSMiddleware

        starlette.add_middleware(
            CORSMiddleware,
            allow_origins=list(srv.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Mcp-Session-Id", "Mcp-Protocol-Version", "Last-Event-ID"],
            expose_headers=["Mcp-Session-Id", "WWW-Authenticate"],
        )
    from resync_mcp.server.caps import Caps

    asgi: Any = Caps(
        starlette,
        per_principal=srv.max_sessions_per_principal,
        streams=srv.max_sse_streams,
        idle_s=srv.session_idle_s,
        monotonic=app.clock.monotonic,
        opening=("POST", srv.path) if srv.transport == "http" else ("GET", "/sse"),
    )
    verifier = verifier_for(app.settings.auth, monotonic=app.clock.monotonic)
    if verifier is not None:
        asgi = Edge(asgi, verifier, app.settings.auth, mcp_path=srv.path)
    if app.health is not None:  # outermost: a probe or a scrape carries no user token
        from resync_mcp.server.ops import Ops

        asgi = Ops(asgi, metrics=app.metrics if srv.metrics else None, readiness=app.health.readiness)
    config = uvicorn.Config(
        asgi,
        host=srv.host,
        port=srv.port,
        http=guarded_h11(srv.header_timeout_s, srv.body_timeout_s),
        limit_concurrency=srv.max_connections,
        log_level="info",
        timeout_graceful_shutdown=max(1, round(srv.shutdown_grace_s)),
    )
    if srv.transport == "http":
        server = uvicorn.Server(config)
    else:
        server = _drain_first_server(uvicorn.Server)(config, app, srv.shutdown_grace_s)
    with _absorb_reraised_signals():
        await server.serve()
    log.info("shutdown", transport=srv.transport)


async def serve(app: App, srv: ServerSettings, security: TransportSecuritySettings | None) -> None:
    """Serve HTTP or SSE until stopped (stdio: server/stdio.py); always close the app, shielded
    so that a second signal cannot skip it."""
    await app.start()
    try:
        await _uvicorn(app, srv, security)
    finally:
        with anyio.CancelScope(shield=True):
            await app.aclose()
