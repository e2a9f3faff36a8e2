"""The one middleware every request passes, before the SDK's handler.

In order: the ready gate (server/gate.py) holds requests until the app is built; a
``tools/call``'s arguments are checked (server/arguments.py) and a prompt's name and arguments
(server/protocol_errors.py); then the call runs with who is calling (the principal the HTTP
edge verified), which client it came from (for the audit), and where its progress and notices
go (server/notify.py). One layer, not one per concern: each layer is a coroutine on every call.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from resync_mcp.clientinfo import ClientInfo, client_var
from resync_mcp.notices import channel_var
from resync_mcp.security.policy import Principal, principal_var
from resync_mcp.server import notify
from resync_mcp.server.arguments import StrictArguments
from resync_mcp.server.gate import ReadyGate
from resync_mcp.server.protocol_errors import PromptChecks

PRINCIPAL_KEY = "resync.principal"
_CLIENTS: dict[tuple[str | None, str | None, str], ClientInfo] = {}


def request_principal(scope: object) -> Principal | None:
    """The principal the HTTP edge verified and put in this ASGI scope, if any."""
    principal = scope.get(PRINCIPAL_KEY) if isinstance(scope, dict) else None
    return principal if isinstance(principal, Principal) else None


def client_of(ctx: ServerRequestContext[Any, Any]) -> ClientInfo:
    """The client's name, version and transport: one object per distinct value (a request may
    come on a connection object of its own; the audit keeps what it derives by identity)."""
    params = ctx.session.client_params if ctx.session is not None else None
    info = params.client_info if params is not None else None
    transport = "http" if getattr(ctx.request, "headers", None) is not None else "local"
    key = (info.name[:100], info.version[:50], transport) if info else (None, None, transport)
    client = _CLIENTS.get(key)
    if client is None:
        if len(_CLIENTS) >= 1024:  # many clients over time: start again rather than grow
            _CLIENTS.clear()
        client = _CLIENTS[key] = ClientInfo(*key)
    return client


class Front:
    def __init__(self, gate: ReadyGate, strict: StrictArguments, prompt_checks: PromptChecks) -> None:
        self.gate, self.strict, self.prompt_checks = gate, strict, prompt_checks

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if not self.gate.passes:
            await self.gate.admit(ctx)
        method = ctx.method
        if method == "tools/call":
            refused = self.strict.check(ctx)
            if refused is not None:
                return refused
        elif method in ("prompts/get", "completion/complete"):
            self.prompt_checks.check(ctx)
        principal = request_principal(getattr(ctx.request, "scope", None))
        who = principal_var.set(principal) if principal is not None else None
        client = client_var.set(client_of(ctx))
        notices = notify.enter(ctx)
        try:
            return await call_next(ctx)
        finally:
            if notices is not None:
                channel_var.reset(notices)
            client_var.reset(client)
            if who is not None:
                principal_var.reset(who)
            if method == "tools/call":
                self.strict.clear()
