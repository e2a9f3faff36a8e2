"""The policy decision, a pure function: ``decide(principal, tool, arguments, policy)``.

Every tool belongs to a toolset: ``read`` (queries), ``operate`` (act on jobs, job streams,
prompts) or ``admin`` (workstations, ad hoc commands). A role grants toolsets. The
decision is one of ``Allow``, ``Deny(reason)`` or ``NeedsConfirmation(reason)``; the
server applies it in the authorize stage and the control service carries out the rest.

What is exposed at all (``exposed``) is decided once at startup from the enabled toolsets
and the allow and deny lists; ``read_only`` overrides everything.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Toolset = Literal["read", "operate", "admin"]
TOOLSETS: tuple[Toolset, ...] = ("read", "operate", "admin")
ROLE_TOOLSETS: Mapping[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "operator": frozenset({"read", "operate"}),
    "admin": frozenset({"read", "operate", "admin"}),
}


@dataclass(frozen=True)
class ToolRule:
    toolset: Toolset
    destructive: bool = False  # its effect cannot be undone by another tool
    idempotent: bool = True  # calling it again with the same arguments changes nothing more
    reads_only: bool = False  # outside the read toolset, yet changes nothing (e.g. the audit reader)
    anyone: bool = False  # any caller may use it, whatever its roles (whoami: to explain a refusal)

    @property
    def writes(self) -> bool:
        return self.toolset != "read" and not self.reads_only


# Every tool the server can expose. A test checks this table against the registered tools.
RULES: Mapping[str, ToolRule] = {
    **{
        name: ToolRule("read")
        for name in (
            "plan_summary",
            "find_jobs",
            "get_job",
            "get_job_log",
            "job_dependencies",
            "find_job_streams",
            "get_job_stream",
            "list_workstations",
            "list_resources",
            "list_prompts",
            "server_health",
            "search_knowledge",
            "explain_message",
            "runbooks_for_job",
            "diagnose_job",
            "impact_of_failure",
            "root_cause",
            "critical_path",
            "deadlines_at_risk",
        )
    },
    "whoami": ToolRule("read", anyone=True),
    "rerun_job": ToolRule("operate", destructive=True, idempotent=False),
    "hold_job": ToolRule("operate"),
    "release_job": ToolRule("operate", destructive=True),
    "release_job_dependencies": ToolRule("operate", destructive=True),
    "cancel_job": ToolRule("operate", destructive=True),
    "kill_job": ToolRule("operate", destructive=True),
    "confirm_job": ToolRule("operate", destructive=True),
    "set_job_priority": ToolRule("operate"),
    "hold_job_stream": ToolRule("operate"),
    "release_job_stream": ToolRule("operate", destructive=True),
    "cancel_job_stream": ToolRule("operate", destructive=True),
    "submit_job_stream": ToolRule("operate", destructive=True, idempotent=False),
    "submit_job": ToolRule("operate", destructive=True, idempotent=False),
    "reply_prompt": ToolRule("operate", destructive=True),
    "bulk_job_action": ToolRule("operate", destructive=True),
    "submit_adhoc_job": ToolRule("admin", destructive=True, idempotent=False),
    "recent_audit_entries": ToolRule("admin", reads_only=True),
    "set_workstation_fence": ToolRule("admin"),
    "set_workstation_limit": ToolRule("admin"),
    "link_workstation": ToolRule("admin"),
    "unlink_workstation": ToolRule("admin", destructive=True),
    "start_workstation": ToolRule("admin"),
    "stop_workstation": ToolRule("admin", destructive=True),
}


@dataclass(frozen=True)
class Principal:
    """Who is calling. A local (stdio) server has one: the operator, with the configured role.
    Over HTTP with auth, each request's verified token gives its own (server/edge.py)."""

    id: str  # the subject
    roles: frozenset[str]
    scope: str = "local"  # part of every cache key: one principal never reads another scope's data
    via: str = "local"  # local, static (a service token), oauth, or none (HTTP without auth)
    issuer: str | None = None
    client_id: str | None = None
    scopes: frozenset[str] = frozenset()  # the token's OAuth scopes, as granted

    @property
    def key(self) -> str:
        """Unique across issuers (a subject is unique only within its issuer): what confirmation
        tokens, idempotency keys and rate limits are bound to."""
        return self.id if self.via == "local" else f"{self.via}:{self.issuer or ''}:{self.id}"

    def toolsets(self) -> frozenset[str]:
        return _toolsets(self.roles)


@functools.lru_cache(maxsize=256)
def _toolsets(roles: frozenset[str]) -> frozenset[str]:
    """Decided on every call: a principal's few role sets are worked out once."""
    return frozenset().union(*(ROLE_TOOLSETS.get(r, frozenset()) for r in roles))


# The principal of the call in progress, when it is not the server's configured one.
principal_var: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("resync_principal", default=None)


@dataclass(frozen=True)
class Policy:
    confirm: frozenset[str]  # tools whose real call needs a human's confirmation
    read_only: bool = False
    rules: Mapping[str, ToolRule] = field(default_factory=lambda: RULES)


@dataclass(frozen=True)
class Allow:
    pass


ALLOW = Allow()  # a decision is never changed: every allowed call can share one


@dataclass(frozen=True)
class Deny:
    reason: str


@dataclass(frozen=True)
class NeedsConfirmation:
    reason: str


Decision = Allow | Deny | NeedsConfirmation


def decide(principal: Principal, tool: str, arguments: Mapping[str, Any], policy: Policy) -> Decision:
    """May ``principal`` call ``tool`` with these arguments, and does a human have to confirm?"""
    rule = policy.rules.get(tool)
    if rule is None:
        return Deny(f"{tool} is not a known tool.")
    if rule.anyone:
        return ALLOW
    if policy.read_only and rule.toolset != "read":
        return Deny(f"{tool} changes the plan and this server is read-only (security.read_only).")
    if rule.toolset not in principal.toolsets():
        roles = ", ".join(sorted(principal.roles)) or "none"
        return Deny(f"{tool} needs the '{rule.toolset}' toolset, which role(s) {roles} do not grant.")
    if rule.toolset == "read":
        return ALLOW
    if tool in policy.confirm:  # for a preview too: it hands out the token the real call presents
        kind = "destructive" if rule.destructive else "configured to need confirmation"
        return NeedsConfirmation(f"{tool} is {kind}: a person must confirm it.")
    impact = high_impact(tool, arguments)
    if impact is not None:
        return NeedsConfirmation(f"{tool} with {impact}: a person must confirm it.")
    return ALLOW


def least_role(toolset: str) -> str:
    """The role with the fewest toolsets that grants ``toolset`` (what a refusal asks for)."""
    return min((r for r, sets in ROLE_TOOLSETS.items() if toolset in sets), key=lambda r: len(ROLE_TOOLSETS[r]))


def visible(principal: Principal, tools: Iterable[str], policy: Policy) -> list[str]:
    """The tools ``principal`` is shown: those it may call at all (listing is a courtesy; every
    call is decided again)."""
    return [t for t in tools if not isinstance(decide(principal, t, {}, policy), Deny)]


def high_impact(tool: str, arguments: Mapping[str, Any]) -> str | None:
    """Reversible tools are classified by impact too: at some values their effect is as wide as a
    destructive action's (every job on a workstation stops until someone notices), so those values
    need a person's confirmation. Other values stay one step."""
    if tool == "set_workstation_limit" and arguments.get("limit") == 0:
        return "a limit of 0 (no job starts on the workstation)"
    fence = arguments.get("fence")
    if tool == "set_workstation_fence" and isinstance(fence, int) and fence >= 100:
        return f"a fence of {fence} (only GO-priority jobs, or none, start on the workstation)"
    return None


def unruled(registered: Iterable[str], rules: Mapping[str, ToolRule] = RULES) -> list[str]:
    """Registered tools without a rule: the server must not start with them (it cannot say who may
    call them or whether they need confirmation)."""
    return sorted(set(registered) - set(rules))


def default_confirm(rules: Mapping[str, ToolRule] = RULES) -> frozenset[str]:
    return frozenset(name for name, rule in rules.items() if rule.destructive)


def exposed(
    toolsets: Iterable[str],
    allow: Iterable[str],
    deny: Iterable[str],
    *,
    read_only: bool,
    rules: Mapping[str, ToolRule] = RULES,
) -> frozenset[str]:
    """The tools listed to clients: those of the enabled toolsets plus ``allow``, minus ``deny``;
    with ``read_only`` only the read toolset, whatever else says.

    Raises:
        ValueError: an unknown toolset or tool name (a typo must not silently expose or hide).
    """
    sets, allow, deny = set(toolsets), set(allow), set(deny)
    unknown_sets = sets - set(TOOLSETS)
    unknown_tools = (allow | deny) - set(rules)
    if unknown_sets:
        raise ValueError(f"unknown toolset(s): {', '.join(sorted(unknown_sets))}; known: {', '.join(TOOLSETS)}")
    if unknown_tools:
        raise ValueError(f"unknown tool name(s): {', '.join(sorted(unknown_tools))}")
    names = {n for n, r in rules.items() if r.toolset in sets or r.toolset == "read"} | allow
    names -= deny
    if read_only:
        names = {n for n in names if rules[n].toolset == "read"}
    return frozenset(names)
