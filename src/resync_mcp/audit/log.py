"""The audit log as the pipeline sees it: a record per tool call, and durable intents.

``AuditStage`` (server/pipeline.py) opens a scope per call; a control action writes its
intent through the scope before the HWA call and the stage writes the outcome after.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from resync_mcp.audit.redact import redact
from resync_mcp.audit.store import AuditStore, AuditUnavailable
from resync_mcp.clientinfo import ClientInfo, client_var
from resync_mcp.security.policy import Principal

log = structlog.get_logger("resync_mcp.audit")


@dataclass
class AuditScope:
    """One tool call's audit context."""

    log: AuditLog
    principal: str
    base: dict[str, Any]
    intents: list[int] = field(default_factory=list)

    def intent(self, details: dict[str, Any]) -> int:
        """Write the intent durably (fsync'd) before the action is sent.

        Raises:
            AuditUnavailable: it could not be written; the action must not be sent.
        """
        seq = self.log.store.append("intent", self.principal, {**self.base, **redact(details)}, durable=True)
        assert seq is not None  # a durable append is committed, or raises
        self.intents.append(seq)
        return seq


audit_scope_var: contextvars.ContextVar[AuditScope | None] = contextvars.ContextVar("resync_audit", default=None)


class AuditLog:
    def __init__(self, store: AuditStore, principal_of: Callable[[], Principal], replica: str | None = None) -> None:
        self.store = store
        self.principal_of = principal_of
        self.replica = replica  # in a fleet: which replica wrote the record
        self.unrecorded = 0  # read calls that ran while the store could not write

    def scope(self, tool: str, engine: str | None, arguments: dict[str, Any], correlation_id: str) -> AuditScope:
        client = client_var.get() or ClientInfo()
        who = self.principal_of()
        principal = who.id
        base = {
            "principal": principal,
            "issuer": who.issuer,
            "client_id": who.client_id,
            "via": who.via,
            "client": {"name": client.name, "version": client.version},
            "transport": client.transport,
            "engine": engine,
            "tool": tool,
            "arguments": redact(arguments),
            "correlation_id": correlation_id,
        }
        if self.replica is not None:
            base["replica"] = self.replica
        return AuditScope(self, principal, base)

    def outcome(self, scope: AuditScope, details: dict[str, Any], *, durable: bool) -> None:
        """The call's record: never fails the call; a read that could not be recorded is counted."""
        payload = {**scope.base, **details}
        if scope.intents:
            payload["intent_seq"] = scope.intents
        try:
            self.store.append("outcome" if durable else "call", scope.principal, payload, durable=durable)
        except AuditUnavailable as exc:
            self.unrecorded += 1
            log.error("audit_unrecorded", tool=scope.base["tool"], error=exc.message)
