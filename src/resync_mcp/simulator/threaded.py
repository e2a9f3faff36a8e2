"""The built-in simulator on its own event loop, in a worker thread.

In process, the simulator's work (selecting among 100,000 jobs, rendering a 2,000-job page as
JSON) ran on the server's event loop, between two of its awaits: every other call waited for
it. Here the server's loop only hands the request over and awaits the answer; the simulator's
CPU work runs in its thread, and the interpreter switches between the two every few
milliseconds, so a ``get_job`` during a graph build is served while the build goes on.

Only requests cross between the threads (bytes in, status, headers and bytes out); the
simulator's state is touched by its own thread while a request runs. A server that makes its own
demo engine uses this; tests that hand a simulator in keep it on their loop, where they can
reach into it between calls.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from starlette.types import ASGIApp


class ThreadedTransport(httpx.AsyncBaseTransport):
    def __init__(self, app: ASGIApp, *, background: Callable[[], Coroutine[Any, Any, None]] | None = None) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="simulator", daemon=True)
        self._thread.start()
        self._background = None
        if background is not None:  # the simulator's own upkeep, on its loop between requests
            self._background = asyncio.run_coroutine_threadsafe(background(), self._loop)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        method, url, headers, extensions = request.method, request.url, request.headers, request.extensions

        async def answer() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            inner = httpx.Request(method, url, headers=headers, content=body, extensions=extensions)
            response = await self._inner.handle_async_request(inner)
            content = await response.aread()
            return response.status_code, response.headers.raw, content

        # Cancelling the caller cancels the request in the simulator's loop too (wrap_future).
        status, raw, content = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(answer(), self._loop))
        return httpx.Response(status, headers=raw, content=content, request=request)

    async def aclose(self) -> None:
        if self._background is not None:
            self._background.cancel()
            await asyncio.to_thread(concurrent.futures.wait, [self._background], 5)
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join, 5)
        if not self._loop.is_running() and not self._loop.is_closed():
            self._loop.close()
