"""The audit log as the pipeline sees it: a record per tool call, and durable intents.

``AuditStage`` (server/pipeline.py) opens a scope per call; a control action writes its
intent through the scope before the HWA call and the stage writes the outcome after.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

import structlog

from resync_mcp.audit.redact import redact
from resync_mcp.audit.store import AuditStore, AuditUnavailable
from resync_mcp.clientinfo import ClientInfo, client_var
from resync_mcp.security.policy import Principal

log = structlog.get_logger("resync_mcp.audit")


class AuditScope:
    """One tool call's audit context. Its record's payload (who, from which client, the redacted
    arguments) is put together when the record is committed, in the committer's thread, unless
    an intent needs it at once: little of a read call's audit work is left on the event loop."""

    __slots__ = ("_base", "arguments", "client", "correlation_id", "details", "engine", "intents", "log", "tool", "who")

    def __init__(
        self,
        log: AuditLog,
        who: Principal,
        client: ClientInfo,
        tool: str,
        engine: str | None,
        arguments: dict[str, Any],
        correlation_id: str,
    ) -> None:
        self.log, self.who, self.client, self.tool, self.engine = log, who, client, tool, engine
        self.arguments, self.correlation_id = arguments, correlation_id
        self.intents: list[int] | None = None  # the seqs of its intents, once it writes one
        self.details: dict[str, Any] | None = None  # the outcome's own fields, once the call ended
        self._base: dict[str, Any] | None = None

    @property
    def principal(self) -> str:
        return self.who.id

    @property
    def base(self) -> dict[str, Any]:
        """What every record of this call says: who, from where, which tool with what arguments."""
        if self._base is None:
            self._base = {
                **self.log.caller(self.who, self.client),
                "engine": self.engine,
                "tool": self.tool,
                "arguments": redact(self.arguments),
                "correlation_id": self.correlation_id,
            }
        return self._base

    def intent(self, details: dict[str, Any]) -> int:
        """Write the intent durably (fsync'd) before the action is sent.

        Raises:
            AuditUnavailable: it could not be written; the action must not be sent.
        """
        seq = self.log.store.append("intent", self.principal, {**self.base, **redact(details)}, durable=True)
        assert seq is not None  # a durable append is committed, or raises
        self.intents = [*(self.intents or ()), seq]
        return seq

    def __call__(self) -> dict[str, Any]:
        """The outcome record's payload (made at its commit: the scope is its own deferred payload)."""
        body = {**self.base, **(self.details or {})}
        if self.intents:
            body["intent_seq"] = self.intents
        return body


_NO_CLIENT = ClientInfo()
audit_scope_var: contextvars.ContextVar[AuditScope | None] = contextvars.ContextVar("resync_audit", default=None)


class AuditLog:
    def __init__(self, store: AuditStore, principal_of: Callable[[], Principal], replica: str | None = None) -> None:
        self.store = store
        self.principal_of = principal_of
        self.replica = replica  # in a fleet: which replica wrote the record
        self.unrecorded = 0  # read calls that ran while the store could not write
        self._last_caller: tuple[Principal, ClientInfo, dict[str, Any]] | None = None

    def scope(self, tool: str, engine: str | None, arguments: dict[str, Any], correlation_id: str) -> AuditScope:
        return AuditScope(
            self, self.principal_of(), client_var.get() or _NO_CLIENT, tool, engine, arguments, correlation_id
        )

    def caller(self, who: Principal, client: ClientInfo) -> dict[str, Any]:
        """Who called and from which client: the same for every call of a session (kept for the
        last pair, by identity: the front middleware hands out one ClientInfo per distinct
        client). Shared by records: never changed."""
        kept = self._last_caller
        if kept is not None and kept[0] is who and kept[1] is client:
            return kept[2]
        caller = {
            "principal": who.id,
            "issuer": who.issuer,
            "client_id": who.client_id,
            "via": who.via,
            "client": {"name": client.name, "version": client.version},
            "transport": client.transport,
        }
        if self.replica is not None:
            caller["replica"] = self.replica
        self._last_caller = (who, client, caller)
        return caller

    def outcome(self, scope: AuditScope, details: dict[str, Any], *, durable: bool) -> None:
        """The call's record: never fails the call; a read that could not be recorded is counted.
        A read's payload is put together at its commit (``scope`` and ``details`` are not changed
        after the call); an outcome after an intent is written at once."""
        scope.details = details
        try:
            self.store.append(
                "outcome" if durable else "call", scope.principal, scope() if durable else scope, durable=durable
            )
        except AuditUnavailable as exc:
            self.unrecorded += 1
            log.error("audit_unrecorded", tool=scope.tool, error=exc.message)
