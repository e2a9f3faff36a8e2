"""HWA clients by engine name: the one place an unknown engine is refused."""

from __future__ import annotations

from resync_mcp.errors import UnknownEngine
from resync_mcp.tws.client import HwaClient


class EngineRegistry:
    """HWA clients by engine name."""

    def __init__(self, clients: dict[str, HwaClient], default: str | None) -> None:
        self._clients = clients
        self.default = default

    @property
    def names(self) -> list[str]:
        return list(self._clients)

    def get(self, name: str | None) -> HwaClient:
        """Raises UnknownEngine when the name is not configured (or none given and no default)."""
        chosen = name or self.default
        if chosen is None:
            raise UnknownEngine(
                "No engine was named and no default engine is configured.",
                hint=f"Pass engine= one of: {', '.join(self.names) or 'none configured'}.",
            )
        client = self._clients.get(chosen)
        if client is None:
            shown = repr(chosen[:40]).encode("ascii", "backslashreplace").decode()
            raise UnknownEngine(
                f"No engine named {shown} is configured.", hint=f"Known engines: {', '.join(self.names) or 'none'}."
            )
        return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
