"""The one path every control action takes, in this order:

1. find the target and read it uncached;
2. an idempotency key seen before returns its stored outcome (nothing is sent again);
3. refuse what the target's state does not allow, before anything is sent;
4. ``preview``: say what would happen (and to whom downstream), change nothing;
5. a destructive action needs a reason; a policy-marked one needs a person's confirmation:
   accepted in the call (elicitation) or a single-use token from a preview;
6. send once (never retried); no answer after sending is "outcome unknown", with the state
   read back; a refusal by the engine is reported as such;
7. invalidate the cache for the object, its job stream and listings, then read it back.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from resync_mcp.audit.log import audit_scope_var
from resync_mcp.audit.store import AuditUnavailable
from resync_mcp.cache.stage import CacheStage
from resync_mcp.clock import Clock
from resync_mcp.errors import InvalidArgument, OutcomeUnknown, Refused, ResyncError
from resync_mcp.security.policy import RULES, Decision, NeedsConfirmation, Principal
from resync_mcp.services.control.safety import Idempotency, Tokens, fingerprint, may_have_been_sent
from resync_mcp.services.control.specs import PREPARE, Ctx, Prepared
from resync_mcp.services.control.views import ActionResult, Downstream
from resync_mcp.services.engines import EngineRegistry
from resync_mcp.services.graph import GraphService
from resync_mcp.services.plan import PlanService
from resync_mcp.tws.actions import HwaActions, Justification

Confirmation = Literal["accepted", "declined", "cancelled"] | None
_EXAMPLES = 10


@dataclass(frozen=True)
class Question:
    """What a person is asked to confirm, or None when nobody needs to be asked."""

    text: str


class ControlService:
    def __init__(
        self,
        engines: EngineRegistry,
        plan: PlanService,
        clock: Clock,
        *,
        cache: CacheStage | None,
        tokens: Tokens,
        graph: GraphService | None = None,
        idempotency: Idempotency[ActionResult],
        max_reason_chars: int = 500,
        bulk_cap: int = 50,
    ) -> None:
        self.engines = engines
        self.plan = plan
        self.clock = clock
        self.cache = cache
        self.graph = graph
        self.tokens = tokens
        self.idempotency = idempotency
        self.max_reason_chars = max_reason_chars
        self.bulk_cap = bulk_cap

    async def _prepare(self, tool: str, engine: str | None, args: dict[str, Any]) -> tuple[Ctx, Prepared]:
        client = self.engines.get(engine)
        ctx = Ctx(client, self.plan, args, self.bulk_cap)
        return ctx, await PREPARE[tool](ctx)

    def _prints(self, tool: str, ctx: Ctx, prep: Prepared, principal: Principal) -> tuple[str, str]:
        """(token print: bound to the run as well; idempotency print: the action itself)."""
        engine = ctx.client.engine
        token = fingerprint(tool, engine, prep.target.id, prep.run, principal.key, ctx.args, justification=True)
        key = fingerprint(tool, engine, prep.target.id, None, principal.key, ctx.args)
        return token, key

    async def question(
        self, tool: str, engine: str | None, args: dict[str, Any], principal: Principal, decision: Decision
    ) -> Question | None:
        """The confirmation to ask in the call, or None: not needed, a preview, a token given, a
        replay, or a call that will be refused anyway (the person is not asked for nothing)."""
        if not isinstance(decision, NeedsConfirmation) or args.get("preview") or args.get("confirmation_token"):
            return None
        try:  # whatever the call would refuse, it reports itself, with its own sentence
            self._justification(tool, args)
            ctx, prep = await self._prepare(tool, engine, args)
            if prep.refusal is not None or await self._seen(args, self._prints(tool, ctx, prep, principal)[1]):
                return None
        except ResyncError:
            return None
        why = f" Reason: {args['reason']}." if args.get("reason") else ""
        return Question(
            f"Confirm on engine '{ctx.client.engine}': {prep.action}. "
            f"{prep.target.kind} {prep.target.name} ({prep.target.id}) is now {prep.target.state}.{why}"
        )

    async def _seen(self, args: dict[str, Any], print_: str) -> bool:
        key = args.get("idempotency_key")
        return bool(key) and await self.idempotency.known(str(key), print_)

    async def execute(
        self,
        tool: str,
        engine: str | None,
        args: dict[str, Any],
        principal: Principal,
        decision: Decision,
        confirmation: Confirmation,
    ) -> ActionResult:
        ctx, prep = await self._prepare(tool, engine, args)
        token_print, key_print = self._prints(tool, ctx, prep, principal)
        key = str(args.get("idempotency_key") or "") or "ik_" + secrets.token_urlsafe(12)

        async def work() -> ActionResult:
            return await self._decide_and_send(
                tool, ctx, prep, args, principal, decision, confirmation, token_print, key
            )

        # The key is claimed before anything else happens, so concurrent duplicates wait for the
        # first and share its outcome; only outcomes where something was sent are remembered.
        outcome, replayed = await self.idempotency.run(key, key_print, work, lambda r: r.outcome in ("done", "unknown"))
        if replayed:
            return outcome.model_copy(
                update={
                    "message": "Replayed: a call with this idempotency key already ran; "
                    "nothing was sent again. " + outcome.message
                }
            )
        return outcome

    async def _decide_and_send(
        self,
        tool: str,
        ctx: Ctx,
        prep: Prepared,
        args: dict[str, Any],
        principal: Principal,
        decision: Decision,
        confirmation: Confirmation,
        token_print: str,
        key: str,
    ) -> ActionResult:
        base = self._base(tool, ctx, prep)
        if prep.refusal is not None:
            raise Refused(
                f"{tool} refused: {prep.refusal}. Nothing was sent to HWA.",
                hint="Read the object again and choose an action its state allows.",
            )
        downstream = await self._downstream(ctx, prep)
        needs = isinstance(decision, NeedsConfirmation)
        if args.get("preview"):
            return await self._preview(base, downstream, needs, token_print)
        reason, ticket = self._justification(tool, args)
        if needs:
            if confirmation in ("declined", "cancelled"):
                return ActionResult(
                    **base,
                    outcome="declined",
                    downstream=downstream,
                    message=f"Not done: the person {confirmation} the confirmation. Nothing was sent to HWA.",
                )
            if confirmation != "accepted":
                token = args.get("confirmation_token")
                if not token:
                    result = await self._preview(base, downstream, True, token_print)
                    return result.model_copy(
                        update={
                            "outcome": "needs_confirmation",
                            "message": "Not done yet: a person must confirm. Show them this preview; once they "
                            "agree, call again with the same arguments plus confirmation_token. Nothing was sent.",
                        }
                    )
                await self.tokens.redeem(str(token), token_print)
        why = Justification(description=reason or f"{tool} by {principal.id}", ticket=ticket)
        return await self._send(ctx, prep, base, downstream, why, key, reason, ticket)

    def _base(self, tool: str, ctx: Ctx, prep: Prepared) -> dict[str, Any]:
        return {
            "engine": ctx.client.engine,
            "as_of": self.clock.now(),
            "tool": tool,
            "target": prep.target,
            "action": prep.action,
            "state_before": prep.target.state,
        }

    async def _preview(
        self, base: dict[str, Any], downstream: Downstream | None, needs: bool, print_: str
    ) -> ActionResult:
        token = expires = None
        if needs:
            token, deadline = await self.tokens.issue(print_)
            expires = self.clock.now() + timedelta(seconds=deadline - self.clock.monotonic())
        note = (
            f" To do it, a person must confirm; then call again without preview and with confirmation_token "
            f"(valid {int(self.tokens.ttl_s)} s, once)."
            if needs
            else " To do it, call again without preview."
        )
        return ActionResult(
            **base,
            outcome="preview",
            downstream=downstream,
            confirmation_token=token,
            token_expires_at=expires,
            message="Preview only: nothing was changed." + note,
        )

    def _justification(self, tool: str, args: dict[str, Any]) -> tuple[str | None, str | None]:
        reason = (args.get("reason") or "").strip() or None
        ticket = (args.get("ticket") or "").strip() or None
        if reason and len(reason) > self.max_reason_chars:
            raise InvalidArgument(f"reason is longer than {self.max_reason_chars} characters.")
        if ticket and len(ticket) > 64:
            raise InvalidArgument("ticket is longer than 64 characters.")
        if RULES[tool].destructive and not reason:
            raise InvalidArgument(
                f"{tool} changes the plan irreversibly and needs a reason.",
                hint="Pass reason (why, in a sentence) and, if there is one, ticket; both go to HWA's audit too.",
            )
        return reason, ticket

    async def _send(
        self,
        ctx: Ctx,
        prep: Prepared,
        base: dict[str, Any],
        downstream: Downstream | None,
        why: Justification,
        key: str,
        reason: str | None,
        ticket: str | None,
    ) -> ActionResult:
        common = {**base, "downstream": downstream, "idempotency_key": key, "justification": reason, "ticket": ticket}
        scope = audit_scope_var.get()
        if scope is not None:
            try:  # the intent is on disk (fsync'd) before anything leaves for HWA
                scope.intent(
                    {
                        "action": prep.action,
                        "target": prep.target.model_dump(),
                        "idempotency_key": key,
                        "justification": reason,
                        "ticket": ticket,
                    }
                )
            except AuditUnavailable as exc:
                raise Refused(
                    f"{base['tool']} refused: the audit store cannot record the intent, so nothing was sent to HWA "
                    f"({exc.message})",
                    hint="Reads still work. Fix the audit store (disk space, permissions), then try again.",
                ) from None
        try:
            reference = await prep.send(HwaActions(ctx.client), why)
        except OutcomeUnknown as exc:
            await self._invalidate(ctx, prep)
            return ActionResult(
                **common,
                outcome="unknown",
                state_after=await self._read_back(prep),
                message=f"{exc.message} The state read back is in state_after. {exc.hint}",
            )
        except ResyncError as exc:
            if may_have_been_sent(exc):  # a 5xx after sending: the engine may have acted
                await self._invalidate(ctx, prep)
            raise
        await self._invalidate(ctx, prep)
        return ActionResult(
            **{**common, "as_of": self.clock.now()},
            outcome="done",
            engine_reference=reference,
            state_after=await self._read_back(prep),
            message=f"Done: {prep.action}.",
        )

    async def _invalidate(self, ctx: Ctx, prep: Prepared) -> None:
        if self.graph is not None:
            self.graph.invalidate(ctx.client.engine, prep.invalidate or [prep.target.id])
        if self.cache is not None:
            await self.cache.invalidate(ctx.client.engine, prep.invalidate or [prep.target.id])

    @staticmethod
    async def _read_back(prep: Prepared) -> str:
        try:
            return await prep.reread()
        except ResyncError as exc:
            return f"could not be read back: {exc.message}"

    async def _downstream(self, ctx: Ctx, prep: Prepared) -> Downstream | None:
        if prep.job is None or prep.effect is None:
            return None
        if self.graph is not None:
            try:
                return await self._downstream_from_graph(ctx, prep)
            except (ResyncError, KeyError):
                pass  # the graph could not answer: fall back to the direct successors
        try:
            deps = await self.plan.job_dependencies(engine=ctx.client.engine, job=prep.job.id, direction="successors")
        except ResyncError:
            return None
        nodes = [n for n in deps.nodes if n.direction == "successor"]
        waiting = [n for n in nodes if (n.status or "") not in ("SUCC", "ABEND", "FAIL", "CANCL", "SUPPR")]
        examples = [f"{n.name} ({n.status})" for n in nodes[:_EXAMPLES]]
        if prep.effect == "frees":
            effect = (
                f"{len(waiting)} direct successor(s) still wait on it; they can start once it ends successfully "
                "and their other dependencies are met."
            )
        else:
            effect = f"{len(waiting)} direct successor(s) still wait on it; they stay blocked."
        return Downstream(
            successors=len(nodes), examples=examples, truncated=len(nodes) > _EXAMPLES or deps.truncated, effect=effect
        )

    async def _downstream_from_graph(self, ctx: Ctx, prep: Prepared) -> Downstream:
        """The whole downstream from the dependency graph: direct successors and everything behind
        them that cannot run until this job succeeds, with the critical jobs among them."""
        assert self.graph is not None and prep.job is not None
        found, g = await self.graph.impact_and_graph(engine=ctx.client.engine, job=prep.job.id)
        direct = [e.dst for e in g.succs.get(prep.job.id, ()) if e.type != "MEMBER"]
        examples = [f"{j.name} ({j.status})" for j in found.nearest[:_EXAMPLES]]
        critical = f", {len(found.critical_affected)} of them critical" if found.critical_affected else ""
        if prep.effect == "frees":
            effect = (
                f"{found.blocked_total} job(s) downstream wait on it{critical}; they can start once it ends "
                "successfully and their other dependencies are met."
            )
        else:
            effect = f"{found.blocked_total} job(s) downstream wait on it{critical}; they stay blocked."
        return Downstream(
            successors=len(direct),
            examples=examples,
            truncated=found.blocked_total > _EXAMPLES,
            effect=effect,
            blocked_total=found.blocked_total,
            critical=[j.name for j in found.critical_affected[:_EXAMPLES]],
        )
