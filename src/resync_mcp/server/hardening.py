"""HTTP hardening for a port others can reach: a client must send its request headers within
``server.header_timeout_s``, on the first request of a connection and on each one after it,
and then its body within ``server.body_timeout_s``; a slow client is closed rather than
holding a connection (and a worker) for ever.

uvicorn times out only idle keep-alive connections, so this is its h11 protocol with one timer
more. Connection and session caps are uvicorn's and the SDK's own settings (serve.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol


def guarded_h11(header_timeout_s: float, body_timeout_s: float) -> type[H11Protocol]:
    class GuardedH11(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None
        _body_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(header_timeout_s, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def data_received(self, data: bytes) -> None:
            before = self.cycle
            super().data_received(data)
            if self.cycle is not None and self.cycle is not before:
                self._disarm()  # a request's headers are complete: now its body
                self._body_timer = self.loop.call_later(body_timeout_s, self._body_too_slow)
            if self.cycle is not None and not self.cycle.more_body and self._body_timer is not None:
                self._body_timer.cancel()
                self._body_timer = None

        def _body_too_slow(self) -> None:
            self._body_timer = None
            if self.cycle is not None and self.cycle.more_body:
                self.transport.close()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request on this connection gets the same time

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._body_timer is not None:
                self._body_timer.cancel()
            super().connection_lost(exc)

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.cycle is None or self.cycle.response_complete:
                self.transport.close()

    return GuardedH11
