"""Which client a request came from (name, version, transport), for the audit. A module of
its own so that the server's first answer does not wait for the audit's imports."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class ClientInfo:
    name: str | None = None
    version: str | None = None
    transport: str = "local"


client_var: contextvars.ContextVar[ClientInfo | None] = contextvars.ContextVar("resync_client", default=None)
