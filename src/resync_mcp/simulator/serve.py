"""Serving the simulator over real HTTP, where a "reset" fault must really reset the TCP
connection: a struggling engine's reset reaches the client as a reset, not as an HTTP 500.

uvicorn runs each connection through an h11 protocol object; the subclass here hands the ASGI
app a ``resync.reset`` extension that aborts that connection with SO_LINGER 0 (an RST). In
process (tests over httpx's ASGI transport) there is no socket: the fault's exception is the
reset the client sees.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

RESET = "resync.reset"


class _ResettableH11(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner = self.app

        async def app(scope: Any, receive: Any, send: Any) -> None:
            scope.setdefault("extensions", {})[RESET] = self._reset
            await inner(scope, receive, send)

        self.app = app

    def _reset(self) -> None:
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


def run(app: Any, host: str, port: int) -> None:
    # A hung fault keeps handlers waiting forever; shutdown must not wait on them.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=1,
        http=_ResettableH11,
    )
