"""The one middleware every request passes, before the SDK's handler.

In order: the ready gate (server/gate.py) holds requests until the app is built; a
``tools/call``'s arguments are checked (server/arguments.py) and a prompt's name and arguments
(server/protocol_errors.py); then the call runs with who is calling (the principal the HTTP
edge verified), which client it came from (for the audit), and where its progress and notices
go (server/notify.py). One layer, not one per concern: each layer is a coroutine on every call.
"""

from __future__ import annotations

from typing import Any, cast

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from resync_mcp.clientinfo import ClientInfo, client_var
from resync_mcp.notices import channel_var
from resync_mcp.security.policy import Principal, principal_var
from resync_mcp.server import notify
from resync_mcp.server.arguments import StrictArguments
from resync_mcp.server.gate import ReadyGate
from resync_mcp.server.protocol_errors import PromptChecks

PRINCIPAL_KEY = "resync.principal"
_CLIENT = "resync.client"


def request_principal(scope: object) -> Principal | None:
    """The principal the HTTP edge verified and put in this ASGI scope, if any."""
    principal = scope.get(PRINCIPAL_KEY) if isinstance(scope, dict) else None
    return principal if isinstance(principal, Principal) else None


def client_of(ctx: ServerRequestContext[Any, Any]) -> ClientInfo:
    """The client's name, version and transport; one object per connection (the audit keeps
    what it derives from it by identity)."""
    params = ctx.session.client_params if ctx.session is not None else None
    transport = "http" if getattr(ctx.request, "headers", None) is not None else "local"
    state = notify.connection_state(ctx)
    kept = state.get(_CLIENT)
    if kept is not None and kept[0] is params and kept[1].transport == transport:
        return cast(ClientInfo, kept[1])
    info = params.client_info if params is not None else None
    client = ClientInfo(info.name[:100] if info else None, info.version[:50] if info else None, transport)
    state[_CLIENT] = (params, client)
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
