"""The HTTP edge: who is calling, verified once per request, before the SDK sees it.

- ``/.well-known/oauth-protected-resource`` (and the form suffixed with the MCP path) serve
  RFC 9728 metadata in oauth mode: the ``resource`` and its ``authorization_servers``.
- Every other request needs ``Authorization: Bearer <token>``. A missing or invalid one is
  401 with ``WWW-Authenticate: Bearer`` (and ``resource_metadata`` in oauth mode); a token in
  the query string is refused whatever its value (it would end up in logs).
- A ``tools/call`` for a tool the token's roles do not grant is 403 ``insufficient_scope``
  naming the scope that would (the MCP scope challenge); the call is decided again inside.
- The verified ``Principal`` goes into the ASGI scope, where the MCP middleware picks it up
  (server/shell.py). The token itself goes no further: HWA is called with the engine's own
  credential.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import structlog

from resync_mcp.config import AuthSettings
from resync_mcp.security.policy import RULES, Principal, least_role
from resync_mcp.security.tokens import InvalidToken, Verifier
from resync_mcp.server.asgi import ASGIApp, Message, Receive, Scope, Send, header, respond_json
from resync_mcp.server.front import PRINCIPAL_KEY

log = structlog.get_logger("resync_mcp.auth")
METADATA = "/.well-known/oauth-protected-resource"
MAX_BODY = 4 * 1024 * 1024  # the SDK's own cap on a request body


class Edge:
    def __init__(self, app: ASGIApp, verifier: Verifier, auth: AuthSettings, *, mcp_path: str) -> None:
        self.app, self.verifier, self.auth, self.mcp_path = app, verifier, auth, mcp_path
        self.role_scope = {role: scope for scope, role in auth.scope_roles.items()}
        parts = urlsplit(auth.audience or "")
        # RFC 9728: the metadata of https://host/mcp is at https://host/.well-known/oauth-protected-resource/mcp
        self.metadata_url = (
            f"{parts.scheme}://{parts.netloc}{METADATA}{parts.path.rstrip('/')}" if auth.mode == "oauth" else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if scope.get("method") == "OPTIONS":  # a CORS preflight carries no credential (it reaches no tool)
            await self.app(scope, receive, send)
            return
        if self.auth.mode == "oauth" and path in (METADATA, METADATA + self.mcp_path):
            await respond_json(send, 200, self._metadata())
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if "access_token" in query:
            await respond_json(
                send,
                400,
                {"error": "invalid_request", "error_description": "send the token in the Authorization header"},
            )
            return
        token = _bearer(scope)
        if token is None:
            await self._challenge(send, 401, "invalid_token", "a bearer token is required")
            return
        try:
            principal = await self.verifier.verify(token)
        except InvalidToken as exc:
            log.info("token_refused", reason=exc.reason, path=path)
            await self._challenge(send, 401, "invalid_token", exc.reason)
            return
        scope[PRINCIPAL_KEY] = principal
        if scope.get("method") == "POST":
            body, receive = await _buffered(receive)
            needed = self._scope_needed(principal, body)
            if needed is not None:
                await self._challenge(send, 403, "insufficient_scope", f"this call needs {needed}", scope_=needed)
                return
        await self.app(scope, receive, send)

    def _scope_needed(self, principal: Principal, body: bytes) -> str | None:
        """The scope (or role) a tools/call in this body needs and the principal lacks."""
        try:
            data = json.loads(body) if body else None
        except ValueError:
            return None  # the SDK answers a malformed body
        for message in data if isinstance(data, list) else [data]:
            if not isinstance(message, dict) or message.get("method") != "tools/call":
                continue
            params = message.get("params")
            rule = RULES.get(str(params.get("name"))) if isinstance(params, dict) else None
            if rule is not None and rule.toolset not in principal.toolsets():
                role = least_role(rule.toolset)
                return self.role_scope.get(role, f"the {role} role")
        return None

    def _metadata(self) -> dict[str, Any]:
        return {
            "resource": self.auth.audience,
            "authorization_servers": [self.auth.issuer],
            "scopes_supported": sorted(self.auth.scope_roles),
            "bearer_methods_supported": ["header"],
        }

    async def _challenge(
        self, send: Send, status: int, error: str, description: str, scope_: str | None = None
    ) -> None:
        description = re.sub(r"[^\w .()'-]", "", description)  # it may echo token text: keep the header clean
        parts = [f'error="{error}"', f'error_description="{description}"']
        if scope_:
            parts.append(f'scope="{scope_}"')
        if self.metadata_url:
            parts.append(f'resource_metadata="{self.metadata_url}"')
        header = ("Bearer " + ", ".join(parts)).encode()
        await respond_json(
            send, status, {"error": error, "error_description": description}, [(b"www-authenticate", header)]
        )


def _bearer(scope: Scope) -> str | None:
    text = header(scope, b"authorization") or ""
    token = text[7:].strip()
    return token if text[:7].lower() == "bearer " and token else None


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """Read the request body (bounded), and a receive that hands it on unchanged."""
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        more = bool(message.get("more_body")) and size <= MAX_BODY
    body, sent = b"".join(chunks), False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
