"""`serve` over stdio with a fast first answer (server/gate.py says how).

The shell starts answering at once; the app is imported in a worker thread (the bulk of the
start-up cost, kept off the event loop that answers) and built behind it. A folder the audit
cannot use is found before serving, so that it still stops the start with one sentence; any
other failure of the build is answered to every request that needs the app, and ends the
process with exit code 2.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import TYPE_CHECKING

import anyio

from resync_mcp import __version__
from resync_mcp.config import Settings
from resync_mcp.errors import ConfigError
from resync_mcp.paths import unusable_folder, writable_folder
from resync_mcp.server.gate import first_listing
from resync_mcp.server.serve import SIGNALS, log
from resync_mcp.server.shell import make_shell

if TYPE_CHECKING:
    from resync_mcp.app import App

BUILD_WAIT_S = 60.0  # stdin closed while building: how long the clean-up waits for the app


def _import_app() -> None:
    import resync_mcp.app  # noqa: F401


async def serve_stdio(settings: Settings) -> None:
    folder = settings.audit.path
    if settings.audit.enabled and (why := writable_folder(folder)):
        raise unusable_folder("audit", f"{folder}: {why}", "audit.dir", "RESYNC_AUDIT__DIR", "audit.enabled = false")
    listing = first_listing(settings.limits, settings.local_tools())
    shell = make_shell(version=__version__, log_level=settings.log_level, listing=listing)
    built: list[App] = []

    async def build() -> None:
        with anyio.move_on_after(0.3):
            await shell.gate.listed.wait()
        await anyio.to_thread.run_sync(_import_app, abandon_on_cancel=True)
        from resync_mcp.app import build_app

        try:
            app = build_app(settings, shell=shell)
            await app.start()
        except ConfigError as exc:
            shell.gate.fail(f"resync-mcp could not start: {exc}")
            print(f"resync-mcp: configuration error: {exc}", file=sys.stderr, flush=True)
            os._exit(2)  # stdin is read by a thread that nothing can interrupt
        built.append(app)
        shell.gate.open()
        log.info("ready", tools=len(shell.mcp._tool_manager.list_tools()), listed_early=listing is not None)

    async def close(grace_s: float) -> None:
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(BUILD_WAIT_S):
                await shell.gate.ready.wait()
            if built:
                with anyio.move_on_after(grace_s):
                    await built[0].idle()
                await built[0].aclose()

    async def on_signal() -> None:
        with anyio.open_signal_receiver(*SIGNALS) as received:
            async for sig in received:
                grace_s = settings.server.shutdown_grace_s
                log.info("shutdown", signal=signal.Signals(sig).name, grace_s=grace_s)
                await close(grace_s)
                sys.stdout.flush()
                os._exit(0)

    async with anyio.create_task_group() as tg:
        tg.start_soon(build)
        tg.start_soon(on_signal)
        try:
            await shell.mcp.run_stdio_async()
        finally:
            await close(settings.server.shutdown_grace_s)
            tg.cancel_scope.cancel()
